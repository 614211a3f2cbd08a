package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// recordingTransport wraps memberlist's NetTransport and keeps a copy of
// every byte the node sends: UDP packets, and writes on both the streams it
// dials and the streams it accepts (push/pull replies, stream handshakes).
type recordingTransport struct {
	*memberlist.NetTransport
	mu      sync.Mutex
	sent    bytes.Buffer
	streams chan net.Conn
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*recordingTransport)(nil)

func newRecordingTransport(t *testing.T) *recordingTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingTransport{NetTransport: nt, streams: make(chan net.Conn), done: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case c := <-nt.StreamCh():
				select {
				case r.streams <- &recordingConn{Conn: c, r: r}:
				case <-r.done:
					_ = c.Close()
					return
				}
			case <-r.done:
				return
			}
		}
	}()
	return r
}

func (r *recordingTransport) record(b []byte) {
	r.mu.Lock()
	r.sent.Write(b)
	r.mu.Unlock()
}

// contains reports whether the bytes sent so far contain s.
func (r *recordingTransport) contains(s []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Contains(r.sent.Bytes(), s)
}

func (r *recordingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	r.record(b)
	return r.NetTransport.WriteTo(b, addr)
}

func (r *recordingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	r.record(b)
	return r.NetTransport.WriteToAddress(b, a)
}

func (r *recordingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := r.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, r: r}, nil
}

func (r *recordingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := r.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, r: r}, nil
}

func (r *recordingTransport) StreamCh() <-chan net.Conn { return r.streams }

func (r *recordingTransport) Shutdown() error {
	r.once.Do(func() { close(r.done) })
	err := r.NetTransport.Shutdown()
	r.wg.Wait()
	return err
}

// recordingConn records what is written to a stream.
type recordingConn struct {
	net.Conn
	r *recordingTransport
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.r.record(b)
	return c.Conn.Write(b)
}

// canary returns a distinctive, random ASCII marker.
func canary(t *testing.T, what string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return what + "-CANARY-" + hex.EncodeToString(b[:])
}

// TestWireCapture records every byte node "w0" puts on loopback while it
// sends an unreliable message, a reliable message and a metadata value,
// each carrying its own canary, and checks what an observer of the wire
// could read: with an encryption key none of the canaries, the token or the
// token-derived key appear; without one the payloads are in the clear (the
// capture does see the traffic) but the token still never is.
func TestWireCapture(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		name := "plaintext"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			token := canary(t, "TOKEN")
			rec := newRecordingTransport(t)
			var nodes [2]*Cluster
			for i := range nodes {
				cfg := testConfig([]string{"w0", "w1"}[i])
				cfg.BearerToken = token
				if encrypted {
					cfg.EncryptionKey = testKey3
				}
				if i == 0 {
					cfg.Transport = rec
				}
				nodes[i] = startNode(t, cfg)
			}
			if _, err := nodes[1].Join(context.Background(), []string{nodes[0].LocalNode().Addr}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "both alive", func() bool { return nodes[0].NumAlive() == 2 && nodes[1].NumAlive() == 2 })

			unrel, rel, meta := canary(t, "UNRELIABLE"), canary(t, "RELIABLE"), canary(t, "METADATA")
			var got recorder
			_ = nodes[1].Handle(300, got.handle)
			if err := nodes[0].SetMetadata("secret", meta); err != nil {
				t.Fatal(err)
			}
			if err := nodes[0].SendTo(context.Background(), "w1", 300, rel, true, -1); err != nil {
				t.Fatal(err)
			}
			// Unreliable messages may be lost: resend until one arrives.
			pump(t, nodes[1], 10*time.Second, "both messages and the metadata", func() bool {
				if got.n.Load() < 2 {
					_ = nodes[0].SendTo(context.Background(), "w1", 300, unrel, false, -1)
				}
				var seen map[string]bool = map[string]bool{}
				for _, m := range got.all() {
					seen[m.Payload.(string)] = true
				}
				n := nodes[1].peers.get("w0")
				return seen[unrel] && seen[rel] && n != nil && nodes[1].snapshotOf(n).Metadata["secret"] == meta
			})

			for _, secret := range []string{token, string(tokenKey(token))} {
				if rec.contains([]byte(secret)) {
					t.Errorf("the bearer token (or its derived key) crossed the wire")
				}
			}
			for _, c := range []string{unrel, rel, meta} {
				if got := rec.contains([]byte(c)); got == encrypted {
					t.Errorf("%s on the wire: %v, encrypted: %v", c[:10], got, encrypted)
				}
			}
		})
	}
}
