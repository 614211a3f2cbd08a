package tests

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// TestStopReleasesPort: right after Stop returns, the node's UDP and TCP
// port can be bound again, by plain sockets and by a new node, even though
// the node had open streams to a peer. A socket left open by Stop would make
// the bind fail with "address already in use".
func TestStopReleasesPort(t *testing.T) {
	cfg := func(id, bind string) engine.Config {
		return engine.Config{
			BindAddr: bind, NodeID: id,
			ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
			GossipInterval: 20 * time.Millisecond, SuspicionMult: 3, PushPullInterval: time.Second,
			LeaveTimeout: time.Second,
		}
	}
	start := func(c engine.Config) *engine.Cluster {
		t.Helper()
		n, err := engine.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		return n
	}
	peer := start(cfg("peer", "127.0.0.1:0"))
	node := start(cfg("node", "127.0.0.1:0"))
	if _, err := node.Join(context.Background(), []string{peer.LocalNode().Addr}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for peer.NumAlive() != 2 || node.NumAlive() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the two nodes did not see each other alive within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A reliable exchange both ways leaves streams open between the two.
	for _, pair := range [][2]*engine.Cluster{{node, peer}, {peer, node}} {
		if err := pair[0].SendTo(context.Background(), pair[1].NodeID(), 200, "x", true, -1); err != nil {
			t.Fatal(err)
		}
	}
	addr := node.LocalNode().Addr
	node.Stop()

	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		t.Fatalf("UDP port %s still held after Stop: %v", addr, err)
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		udp.Close()
		t.Fatalf("TCP port %s still held after Stop: %v", addr, err)
	}
	udp.Close()
	tcp.Close()

	again := start(cfg("node", addr))
	if got := again.LocalNode().Addr; got != addr {
		t.Fatalf("restarted node advertises %s, want %s", got, addr)
	}
}
