package engine

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/streams"
	"github.com/scriptling-contrib/gossip/internal/testnet"
)

// A node must survive anything a stranger or a peer sends at every point of
// its life: while Start runs (memberlist's packet handler is already live
// inside memberlist.Create), while running, while leaving, while and after
// stopping, and when restarted on the same port. These tests flood a node
// with forged traffic at each of those points, under -race, and then check
// that it still works with a real peer.

// mlUserMsg is memberlist's wire code for a user message (its messageType
// userMsg): the packet handler hands what follows to Delegate.NotifyMsg.
const mlUserMsg = 8

// forgedEnvelopes builds envelopes with the engine's own encoder, so they
// track the wire format: every internal message type and a user type, from
// each sender in senders, with empty, garbage and well-formed payloads,
// unreliable and reliable, plain and flagged compressed.
func forgedEnvelopes(senders ...string) [][]byte {
	valid, _, err := (&Cluster{cfg: &settings{}}).encodePayload(map[string]any{"k": "v", "n": int64(1)})
	if err != nil {
		panic(err)
	}
	garbage := make([]byte, 40)
	_, _ = rand.Read(garbage)
	payloads := [][]byte{nil, garbage, valid}
	types := []int{0, MinUserMessageType, MinUserMessageType + 1, 65535}
	for t := 1; t < MinUserMessageType; t++ {
		types = append(types, t)
	}
	var out [][]byte
	for _, s := range senders {
		for _, t := range types {
			for _, p := range payloads {
				for _, reliable := range []bool{false, true} {
					e := &envelope{msgType: t, sender: s, payload: p, reliable: reliable, session: sessionID{1}, seq: 1}
					out = append(out, encodeEnvelope(e, nil))
					e.flags = envCompressed
					out = append(out, encodeEnvelope(e, nil))
				}
			}
		}
	}
	return append(out, fuzzEnvelopes()...)
}

// forgedDatagrams wraps envs as memberlist user messages, adds truncated
// copies and raw garbage (including bytes memberlist itself must reject).
func forgedDatagrams(envs [][]byte) [][]byte {
	var out [][]byte
	for _, env := range envs {
		pkt := append([]byte{mlUserMsg}, env...)
		out = append(out, pkt)
		for _, cut := range []int{1, 2, 4, 6, len(pkt) / 2, len(pkt) - 1} {
			if cut > 0 && cut < len(pkt) {
				out = append(out, pkt[:cut])
			}
		}
	}
	for i := range 64 {
		g := make([]byte, 1+i*7)
		_, _ = rand.Read(g)
		out = append(out, g, append([]byte{mlUserMsg}, g...))
	}
	return out
}

// flooder sends forged datagrams (and stream frames) to one address until
// stopped. Send errors are expected (nothing listens between runs) and
// ignored.
type flooder struct {
	stop chan struct{}
	wg   sync.WaitGroup
	sent atomic.Int64
}

// startFlood floods addr with the forged traffic made for senders. It
// always sends UDP; with streams it also opens engine streams (the same
// preamble and label a peer uses) and sends the envelopes as frames.
func startFlood(t *testing.T, addr string, withStreams bool, senders ...string) *flooder {
	t.Helper()
	envs := forgedEnvelopes(senders...)
	dgrams := forgedDatagrams(envs)
	// Every other datagram is the simplest dangerous one: a well-formed
	// user message from a sender the node has never heard of, which walks
	// the whole receive path up to the membership check.
	stranger := append([]byte{mlUserMsg}, encodeEnvelope(&envelope{msgType: MinUserMessageType, sender: "stranger"}, nil)...)
	f := &flooder{stop: make(chan struct{})}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer conn.Close()
		for i := 0; ; i++ {
			select {
			case <-f.stop:
				return
			default:
			}
			pkt := stranger
			if i%2 == 1 {
				pkt = dgrams[(i/2)%len(dgrams)]
			}
			_, _ = conn.Write(pkt)
			f.sent.Add(1)
		}
	}()
	if withStreams {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		st := streams.Wrap(nt, streams.Config{Label: streamLabel, DialTimeout: time.Second, WriteTimeout: time.Second})
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer st.Shutdown()
			for i := 0; ; i++ {
				select {
				case <-f.stop:
					return
				default:
				}
				if err := st.Send(addr, envs[i%len(envs)]); err != nil {
					time.Sleep(time.Millisecond)
				}
				f.sent.Add(1)
			}
		}()
	}
	t.Cleanup(f.halt)
	return f
}

// halt stops the flood and waits for its goroutines.
func (f *flooder) halt() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// freeLoopbackPort returns a loopback port free for TCP and UDP, or fails t.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	port, err := testnet.FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startOnPort starts a node bound to 127.0.0.1:port, retrying briefly when
// the port is still held by the previous run's sockets.
func startOnPort(t *testing.T, id string, port int) *Cluster {
	t.Helper()
	cfg := testConfig(id)
	cfg.BindAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err = c.Start(); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("start %s on port %d: %v", id, port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkWorks joins a fresh peer to c and checks that messages flow both
// ways, reliable and unreliable: the node is fully usable.
func checkWorks(t *testing.T, c *Cluster) {
	t.Helper()
	peer := startNode(t, testConfig("works-peer-"+c.id))
	if _, err := peer.Join(context.Background(), []string{c.LocalNode().Addr}); err != nil {
		t.Fatalf("a real peer cannot join %s: %v", c.id, err)
	}
	waitFor(t, 10*time.Second, "both see each other alive", func() bool {
		return c.NumAlive() == 2 && peer.NumAlive() == 2
	})
	var atNode, atPeer recorder
	for _, h := range []struct {
		c *Cluster
		r *recorder
	}{{c, &atNode}, {peer, &atPeer}} {
		if err := h.c.Handle(200, h.r.handle); err != nil {
			t.Fatal(err)
		}
	}
	if err := peer.SendTo(context.Background(), c.id, 200, "to-node", true, -1); err != nil {
		t.Fatalf("reliable send to %s: %v", c.id, err)
	}
	if err := c.SendTo(context.Background(), peer.id, 200, "to-peer", true, -1); err != nil {
		t.Fatalf("reliable send from %s: %v", c.id, err)
	}
	pump(t, c, 10*time.Second, "reliable message at the flooded node", func() bool { return atNode.n.Load() >= 1 })
	pump(t, peer, 10*time.Second, "reliable message from the flooded node", func() bool { return atPeer.n.Load() >= 1 })
	// Unreliable messages may be lost: resend until one arrives.
	base := atNode.n.Load()
	pump(t, c, 10*time.Second, "unreliable message at the flooded node", func() bool {
		_ = peer.SendTo(context.Background(), c.id, 200, "udp", false, -1)
		peer.Dispatch()
		return atNode.n.Load() > base
	})
}

// floodCycles is how many times a node is started under flood on one port.
const floodCycles = 40

// TestFloodDuringStartOnOnePort restarts nodes on one fixed port while a
// stranger floods it. memberlist's packet handler runs inside
// memberlist.Create, before Start has finished wiring the node up.
func TestFloodDuringStartOnOnePort(t *testing.T) {
	port := freeLoopbackPort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	f := startFlood(t, addr, true, "ghost", "flood-0", "flood-1")
	for i := range floodCycles {
		id := fmt.Sprintf("flood-%d", i)
		c := startOnPort(t, id, port)
		switch i % 3 {
		case 0:
			c.Stop()
		case 1:
			c.stop(false) // a crash: no leave
		case 2:
			if err := c.Leave(); err != nil {
				t.Fatalf("leave %s: %v", id, err)
			}
			c.Stop()
		}
	}
	c := startOnPort(t, "flood-survivor", port)
	t.Cleanup(func() { c.stop(false) })
	checkWorks(t, c)
	f.halt()
	if f.sent.Load() == 0 {
		t.Fatal("the flood sent nothing")
	}
}

// TestFloodWhileRunningLeavingStopping floods a node that has a real peer,
// with envelopes from strangers, from the peer's id and from its own id,
// through a whole life: running, leaving, stopping and stopped. A new node
// on the same port then still works.
func TestFloodWhileRunningLeavingStopping(t *testing.T) {
	port := freeLoopbackPort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	a := startOnPort(t, "a", port)
	t.Cleanup(func() { a.stop(false) })
	b := startNode(t, testConfig("b"))
	if _, err := b.Join(context.Background(), []string{addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a and b alive", func() bool { return a.NumAlive() == 2 && b.NumAlive() == 2 })

	f := startFlood(t, addr, true, "ghost", "a", "b")
	before := a.Stats()
	waitFor(t, 10*time.Second, "forged traffic counted while running", func() bool {
		s := a.Stats()
		a.Dispatch()
		return s.NotMemberDropped > before.NotMemberDropped && s.DecodeErrors > before.DecodeErrors
	})
	if err := a.Leave(); err != nil {
		t.Logf("leave under flood: %v", err) // may time out; it must not crash
	}
	a.Stop()
	// Keep flooding the closed port and the stopped node's last sockets.
	sent := f.sent.Load()
	waitFor(t, 10*time.Second, "flood continues after stop", func() bool { return f.sent.Load() > sent+1000 })

	c := startOnPort(t, "a-again", port)
	t.Cleanup(func() { c.stop(false) })
	checkWorks(t, c)
	f.halt()
}
