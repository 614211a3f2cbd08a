package streams

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// Packets the filter refuses never reach PacketCh and are counted; the
// others arrive in order.
func TestPacketFilter(t *testing.T) {
	b, addrB := newNode(t, Config{PacketFilter: func(p *memberlist.Packet) bool { return p.Buf[0] == 'y' }})
	c, err := net.Dial("udp", addrB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"n1", "y1", "n2", "y2"} {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if p[0] == 'y' {
			select {
			case got := <-b.PacketCh():
				if string(got.Buf) != p {
					t.Fatalf("got packet %q, want %q", got.Buf, p)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("packet %q not delivered", p)
			}
		}
	}
	if n := b.Stats().PacketsFiltered; n != 2 {
		t.Fatalf("%d packets filtered, want 2", n)
	}
}

// The forward filter may read past the peeked bytes: memberlist is handed
// the bytes it returns and then the rest of the connection. A refused
// connection is closed, counted, and never handed on.
func TestForwardFilter(t *testing.T) {
	refuse := errors.New("refused")
	b, addrB := newNode(t, Config{ForwardFilter: func(c net.Conn, peeked []byte) ([]byte, error) {
		head := make([]byte, 4)
		if _, err := io.ReadFull(c, head[len(peeked):]); err != nil {
			return nil, err
		}
		copy(head, peeked)
		if head[3] != 'k' {
			return nil, refuse
		}
		return head, nil
	}})
	for _, payload := range []string{"\x06bad rest", "\x06okk and the rest"} {
		c, err := net.Dial("tcp", addrB)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(payload)); err != nil {
			t.Fatal(err)
		}
		if payload[3] != 'k' {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("refused connection left open")
			}
			continue
		}
		select {
		case fwd := <-b.StreamCh():
			_ = fwd.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(payload))
			if _, err := io.ReadFull(fwd, got); err != nil || !bytes.Equal(got, []byte(payload)) {
				t.Fatalf("forwarded %q, %v; want %q", got, err, payload)
			}
			_ = fwd.Close()
		case <-time.After(5 * time.Second):
			t.Fatal("accepted connection not forwarded")
		}
	}
	if s := b.Stats(); s.ConnsFiltered != 1 || s.ConnsForwarded != 1 {
		t.Fatalf("filtered %d forwarded %d, want 1 and 1", s.ConnsFiltered, s.ConnsForwarded)
	}
}
