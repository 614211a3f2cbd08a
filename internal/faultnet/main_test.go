package faultnet

import (
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/testnet"
)

func TestMain(m *testing.M) {
	testnet.VerifyNoLeaks(m)
}

// waitFor polls cond every 20ms and fails the test if it does not hold
// within timeout.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newTestNetwork returns a seeded network closed at the end of the test.
func newTestNetwork(t testing.TB) *Network {
	t.Helper()
	n := NewNetworkWithSeed(1)
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func mustTransport(t testing.TB, n *Network, addr string) *Transport {
	t.Helper()
	tr, err := n.NewTransport(addr)
	if err != nil {
		t.Fatalf("NewTransport(%q): %v", addr, err)
	}
	return tr
}
