package streams

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flynn/noise"
	"github.com/hashicorp/memberlist"
)

// dialerFlight is what an encrypted dialer sends first: the hello and the
// first Noise message, with the handshake state that wrote it.
func dialerFlight(t *testing.T, kr *memberlist.Keyring, label string) ([]byte, *noise.HandshakeState) {
	t.Helper()
	d := labelDigest(label)
	hello := appendHello(nil, true, &d)
	var psks pskCache
	out, hs, err := startHandshake(append([]byte(nil), hello...), kr, &psks, hello)
	if err != nil {
		t.Fatal(err)
	}
	return out, hs
}

// dialRaw opens a TCP connection to addr, closed at the end of the test.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// rawEncryptedStream completes an encrypted handshake by hand and returns
// the connection, a sealer for records and a copy of every byte it sent.
func rawEncryptedStream(t *testing.T, addr string, kr *memberlist.Keyring, label string) (net.Conn, *sealer, *bytes.Buffer) {
	t.Helper()
	c := dialRaw(t, addr)
	flight, hs := dialerFlight(t, kr, label)
	sent := &bytes.Buffer{}
	w := io.MultiWriter(c, sent)
	if _, err := w.Write(flight); err != nil {
		t.Fatal(err)
	}
	if err := readReply(c); err != nil {
		t.Fatal(err)
	}
	send, err := finishHandshake(c, hs)
	if err != nil {
		t.Fatal(err)
	}
	return c, newSealer(w, send, &defaultLimits, 1024), sent
}

// waitClosed waits for the peer to close c (read returns EOF or an error
// other than a timeout of ours) and returns what it sent before.
func waitClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the acceptor kept the connection open: %v", err)
	}
	return b
}

func TestEncryptedLabelMismatchRefused(t *testing.T) {
	a, _ := newNode(t, Config{Keyring: keyring(t, key(1)), Label: "one"})
	b, addrB := newNode(t, Config{Keyring: keyring(t, key(1)), Label: "two"})
	var he *HandshakeError
	if err := a.Send(addrB, []byte("x")); !errors.As(err, &he) || he.Status != statusLabelMismatch {
		t.Fatalf("got %v", err)
	}
	if s := b.Stats(); s.ConnsAccepted != 0 || s.HandshakeFailures != 1 {
		t.Fatalf("receiver stats %+v", s)
	}
}

// A hello that claims the acceptor's label while the handshake was built
// for another one fails: the label is bound into the Noise prologue.
func TestLabelBoundIntoHandshake(t *testing.T) {
	kr := keyring(t, key(1))
	var got collector
	b, addrB := newNode(t, Config{Keyring: kr, Label: "two", Handler: got.handle})
	flight, _ := dialerFlight(t, kr, "one")
	d := labelDigest("two")
	copy(flight[6:helloLen], d[:]) // the hello now claims "two"
	c := dialRaw(t, addrB)
	if _, err := c.Write(flight); err != nil {
		t.Fatal(err)
	}
	var he *HandshakeError
	if err := readReply(c); !errors.As(err, &he) || he.Status != statusKeyMismatch {
		t.Fatalf("got %v", err)
	}
	if s := b.Stats(); s.ConnsAccepted != 0 || s.DecryptFailures != 1 {
		t.Fatalf("receiver stats %+v", s)
	}
}

// fakeAcceptor listens on 127.0.0.1 and answers one stream connection with
// answer(hello and first message).
func fakeAcceptor(t *testing.T, answer func(flight []byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			flight := make([]byte, helloLen)
			if _, err := io.ReadFull(br, flight); err == nil {
				if msg, err := readHandshakeMsg(br); err == nil {
					flight = binary.BigEndian.AppendUint16(flight, uint16(len(msg)))
					flight = append(flight, msg...)
					_, _ = c.Write(answer(flight))
				}
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

// The acceptor's OK is authenticated: an acceptor without the key cannot
// fake it, whatever it sends after the status byte.
func TestForgedAcceptorAnswerRejected(t *testing.T) {
	addr := fakeAcceptor(t, func([]byte) []byte {
		reply := append(magic[:], statusOK)
		reply = binary.BigEndian.AppendUint16(reply, 48)
		return append(reply, bytes.Repeat([]byte{7}, 48)...)
	})
	a, _ := newNode(t, Config{Keyring: keyring(t, key(1))})
	err := a.Send(addr, []byte("secret"))
	if err == nil || !strings.Contains(err.Error(), "failed to authenticate") {
		t.Fatalf("Send to a forged acceptor: %v", err)
	}
	if s := a.Stats(); s.ConnsOpened != 0 || s.HandshakeFailures != 1 {
		t.Fatalf("sender stats %+v", s)
	}
}

// A genuine answer cut at any byte fails the dialer's handshake promptly.
func TestTruncatedAnswerFailsDialer(t *testing.T) {
	kr := keyring(t, key(1))
	cut := 0
	addr := fakeAcceptor(t, func(flight []byte) []byte {
		var psks pskCache
		reply := append(magic[:], statusOK)
		reply, _, err := acceptHandshake(reply, flight[helloLen+2:], kr, &psks, flight[:helloLen])
		if err != nil {
			t.Error(err)
		}
		return reply[:cut]
	})
	a, _ := newNode(t, Config{Keyring: kr, HandshakeTimeout: 5 * time.Second})
	full := replyLen + 2 + 48
	for cut = 0; cut < full; cut++ {
		if err := a.Send(addr, []byte("x")); err == nil {
			t.Fatalf("answer cut at byte %d: Send succeeded", cut)
		}
	}
	if s := a.Stats(); s.ConnsOpened != 0 || s.HandshakeFailures != uint64(full) {
		t.Fatalf("sender stats %+v", s)
	}
}

// The dialer's first flight cut at any byte never opens a stream, and the
// acceptor closes the connection (at once on EOF, at the handshake
// deadline when the dialer just stops sending).
func TestTruncatedHandshakeAtEveryByte(t *testing.T) {
	kr := keyring(t, key(1))
	var got collector
	b, addrB := newNode(t, Config{Keyring: kr, Handler: got.handle, HandshakeTimeout: 200 * time.Millisecond, PeekTimeout: 200 * time.Millisecond})
	flight, _ := dialerFlight(t, kr, "")
	// Every cut point with the dialer's write side closed, and a few where
	// the dialer just goes quiet (the handshake deadline ends those).
	cuts := []struct {
		n     int
		quiet bool
	}{{0, true}, {1, true}, {4, true}, {helloLen, true}, {helloLen + 1, true}, {helloLen + 10, true}}
	for n := 0; n < len(flight); n++ {
		cuts = append(cuts, struct {
			n     int
			quiet bool
		}{n, false})
	}
	for _, cut := range cuts {
		n := cut.n
		c := dialRaw(t, addrB)
		if _, err := c.Write(flight[:n]); err != nil {
			t.Fatal(err)
		}
		if !cut.quiet {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		if reply := waitClosed(t, c); len(reply) > replyLen {
			t.Fatalf("cut at %d: acceptor answered %x", n, reply)
		}
		_ = c.Close()
	}
	if s := b.Stats(); s.ConnsAccepted != 0 || s.FramesReceived != 0 {
		t.Fatalf("receiver stats %+v", s)
	}
	waitFor(t, 5*time.Second, "inbound connections released", func() bool { return b.Stats().InboundOpen == 0 })
	// The full flight still works.
	c, seal, _ := rawEncryptedStream(t, addrB, kr, "")
	if err := seal.writeFrame([]byte("whole")); err != nil {
		t.Fatal(err)
	}
	if err := seal.flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "frame", func() bool { return got.count() == 1 })
	_ = c.Close()
}

// Replaying a recorded handshake and stream into a new connection
// delivers nothing: the acceptor's fresh ephemeral key gives the new
// session other keys, so the recorded records fail to authenticate.
func TestReplayedStreamRejected(t *testing.T) {
	kr := keyring(t, key(1))
	var got collector
	b, addrB := newNode(t, Config{Keyring: kr, Handler: got.handle})
	c, seal, sent := rawEncryptedStream(t, addrB, kr, "")
	for i := 0; i < 5; i++ {
		if err := seal.writeFrame(seqFrame(0, uint32(i), 64)); err != nil {
			t.Fatal(err)
		}
		if err := seal.flush(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "original frames", func() bool { return got.count() == 5 })
	_ = c.Close()

	replay := dialRaw(t, addrB)
	if _, err := replay.Write(sent.Bytes()); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, replay)
	waitFor(t, 5*time.Second, "decrypt failure", func() bool { return b.Stats().DecryptFailures == 1 })
	if n := got.count(); n != 5 {
		t.Fatalf("replay delivered %d more frames", n-5)
	}
}
