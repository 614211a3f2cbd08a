package testnet

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeLoopbackPortIsBindable checks that the port returned can be bound
// for TCP and UDP at once, which is what the callers rely on.
func TestFreeLoopbackPortIsBindable(t *testing.T) {
	port, err := FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("TCP %s: %v", addr, err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("UDP %s: %v", addr, err)
	}
	_ = u.Close()
}
