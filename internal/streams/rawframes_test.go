package streams

import (
	"bytes"
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

// loopbackPair returns the two ends of a real loopback TCP connection.
func loopbackPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(); _ = r.Close() })
	return w, r
}

// A frame pair carries frames of every size unchanged, plain and sealed,
// whether a frame lies whole in the buffer or spans reads and records.
func TestFramePairRoundTrip(t *testing.T) {
	for _, kr := range []*memberlist.Keyring{nil, keyring(t, key(1))} {
		w, r := loopbackPair(t)
		fw, fr, err := NewFramePair(w, r, kr, 256)
		if err != nil {
			t.Fatal(err)
		}
		var frames [][]byte
		for i, size := range []int{0, 1, 100, 255, 256, 1000, 70000, 3, 200000, 5} {
			frames = append(frames, bytes.Repeat([]byte{byte(i + 1)}, size))
		}
		errc := make(chan error, 1)
		go func() { errc <- fw.WriteBatch(frames) }()
		for i, want := range frames {
			got, err := fr.Next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("sealed=%v frame %d: %d bytes, %v", kr != nil, i, len(got), err)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// A corrupted plain frame fails its checksum rather than coming out.
func TestFramePairCorruptFrame(t *testing.T) {
	w, r := loopbackPair(t)
	var wire bytes.Buffer
	fw, _, err := NewFramePair(&bufConn{Conn: w, w: &wire}, r, nil, 256)
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteBatch([][]byte{[]byte("hello"), []byte("world")}); err != nil {
		t.Fatal(err)
	}
	b := wire.Bytes()
	b[len(b)-6] ^= 1 // a payload byte of the second frame
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	_, fr, _ := NewFramePair(w, r, nil, 256)
	if f, err := fr.Next(); err != nil || string(f) != "hello" {
		t.Fatalf("first frame: %q, %v", f, err)
	}
	if f, err := fr.Next(); err != errBadCRC {
		t.Fatalf("corrupted frame: %q, %v", f, err)
	}
}

// bufConn captures writes instead of sending them.
type bufConn struct {
	net.Conn
	w *bytes.Buffer
}

func (c *bufConn) Write(p []byte) (int, error) { return c.w.Write(p) }
