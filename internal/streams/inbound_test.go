package streams

import (
	"net"
	"testing"
	"time"
)

// addrConn is a net.Conn with a chosen remote address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func fakeConn(t *testing.T, ip string) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return addrConn{Conn: a, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}
}

// The per-source and total caps refuse and count the excess; closing an
// admitted connection frees its slot; loopback only counts toward the
// total.
func TestInboundCaps(t *testing.T) {
	tr, _ := newNode(t, Config{MaxInbound: 5, MaxInboundPerSource: 2})
	var held []net.Conn
	admit := func(ip string) bool {
		c, ok := tr.admit(fakeConn(t, ip))
		if ok {
			held = append(held, c)
		}
		return ok
	}
	for i := 0; i < 2; i++ {
		if !admit("10.0.0.1") {
			t.Fatal("connections under the per-source cap refused")
		}
	}
	if admit("10.0.0.1") {
		t.Fatal("third connection from one source admitted")
	}
	if !admit("10.0.0.2") || !admit("::ffff:10.0.0.3") {
		t.Fatal("other sources refused")
	}
	if !admit("127.0.0.1") {
		t.Fatal("loopback refused")
	}
	if admit("10.0.0.4") || admit("127.0.0.1") {
		t.Fatal("connection over the total cap admitted")
	}
	s := tr.Stats()
	if s.ConnsRefused != 3 || s.ConnsRefusedSource != 1 || s.InboundOpen != 5 || s.InboundPeak != 5 {
		t.Fatalf("stats %+v", s)
	}
	_ = held[0].Close()
	_ = held[0].Close() // a second close must not free a second slot
	if !admit("10.0.0.1") {
		t.Fatal("slot not freed by close")
	}
	if admit("10.0.0.5") {
		t.Fatal("double close freed two slots")
	}
	for _, c := range held {
		_ = c.Close()
	}
	if s := tr.Stats(); s.InboundOpen != 0 {
		t.Fatalf("%d connections still counted after closing all", s.InboundOpen)
	}
}

// Over real TCP: idle connections beyond MaxInbound are closed at once
// while the ones held stay until their peek deadline; memberlist's
// forwarded connections release their slot when memberlist closes them.
func TestInboundTotalCapOverTCP(t *testing.T) {
	var got collector
	b, addrB := newNode(t, Config{MaxInbound: 4, Handler: got.handle})
	var idle []net.Conn
	for i := 0; i < 4; i++ {
		idle = append(idle, dialRaw(t, addrB))
	}
	waitFor(t, 5*time.Second, "4 held", func() bool { return b.Stats().InboundOpen == 4 })
	extra := dialRaw(t, addrB)
	waitClosed(t, extra)
	if s := b.Stats(); s.ConnsRefused != 1 {
		t.Fatalf("stats %+v", s)
	}
	_ = idle[0].Close()
	waitFor(t, 5*time.Second, "slot freed", func() bool { return b.Stats().InboundOpen == 3 })
	a, _ := newNode(t, Config{})
	if err := a.Send(addrB, []byte("through")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "frame", func() bool { return got.count() == 1 })
	for _, c := range idle[1:] {
		_ = c.Close()
	}
	a.ClosePeer(addrB)
	waitFor(t, 5*time.Second, "all released", func() bool { return b.Stats().InboundOpen == 0 })
}

// An inbound stream that sends nothing for InboundIdleTimeout is closed,
// in both modes; the dialer notices the close and redials at once, so the
// next Send succeeds.
func TestInboundIdleDeadline(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		cfg := Config{InboundIdleTimeout: 150 * time.Millisecond, IdleTimeout: time.Hour}
		if encrypted {
			cfg.Keyring = keyring(t, key(1))
		}
		var got collector
		a, _ := newNode(t, cfg)
		rcfg := cfg
		rcfg.Handler = got.handle
		b, addrB := newNode(t, rcfg)
		if err := a.Send(addrB, []byte("1")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "idle close", func() bool { return b.Stats().InboundIdleClosed == 1 })
		waitFor(t, 5*time.Second, "dialer sees the close", func() bool {
			p := a.peer(addrB)
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.cs == nil
		})
		if err := a.Send(addrB, []byte("2")); err != nil {
			t.Fatalf("encrypted=%v: Send after the idle close: %v", encrypted, err)
		}
		waitFor(t, 5*time.Second, "frames", func() bool { return got.count() == 2 })
		if s := a.Stats(); s.ConnsOpened != 2 || s.SendErrors != 0 {
			t.Fatalf("encrypted=%v: sender stats %+v", encrypted, s)
		}
	}
}

// A raw plaintext connection that goes quiet after its handshake is closed
// at the idle deadline rather than held for ever.
func TestIdlePlainStreamClosed(t *testing.T) {
	b, addrB := newNode(t, Config{InboundIdleTimeout: 100 * time.Millisecond})
	c := rawStream(t, addrB, "")
	waitClosed(t, c)
	if s := b.Stats(); s.InboundIdleClosed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Unencrypted frames that were corrupted, lost or repeated on the way are
// detected by their checksum: the stream closes, is counted, and no wrong
// frame reaches the handler.
func TestPlainFrameChecksum(t *testing.T) {
	f0, f1, f2 := []byte("frame zero"), []byte("frame one"), []byte("frame two")
	flip := appendPlainFrame(nil, 1, f1)
	flip[3] ^= 0x20
	cases := map[string][]byte{
		"corrupted":          flip,
		"lost":               appendPlainFrame(nil, 2, f2), // frame 1 missing
		"repeated":           appendPlainFrame(nil, 0, f0), // frame 0 again
		"truncated checksum": appendPlainFrame(nil, 1, f1)[:len(f1)+2],
		"bad length":         append([]byte{byte(len(f1) - 1)}, appendPlainFrame(nil, 1, f1)[1:]...),
	}
	for name, tail := range cases {
		var got collector
		b, addrB := newNode(t, Config{Handler: got.handle})
		c := rawStream(t, addrB, "")
		if _, err := c.Write(append(appendPlainFrame(nil, 0, f0), tail...)); err != nil {
			t.Fatal(err)
		}
		if name == "truncated checksum" {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		waitClosed(t, c)
		if f := got.snapshot(); len(f) != 1 || string(f[0]) != string(f0) {
			t.Fatalf("%s: frames delivered %q", name, f)
		}
		want := uint64(1)
		if name == "truncated checksum" {
			want = 0 // a cut stream, not a wrong one
		}
		if s := b.Stats(); s.CorruptFrames != want {
			t.Fatalf("%s: stats %+v", name, s)
		}
	}
}
