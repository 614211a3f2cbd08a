package testnet

import (
	"context"
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it holds, and fails tb once timeout
// has passed. The timeout catches a stall, not a speed.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	PollFor(tb, 10*time.Millisecond, timeout, what, cond)
}

// PollFor is WaitFor polling every interval, for tests that wait on events
// much shorter (or longer) than 10 ms.
func PollFor(tb testing.TB, every, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
}

// Dispatcher is a node whose handlers run when it is told to dispatch.
type Dispatcher interface {
	Dispatch() int
}

// Pump dispatches d until cond holds, failing tb as WaitFor does.
func Pump(tb testing.TB, d Dispatcher, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	WaitFor(tb, timeout, what, func() bool {
		d.Dispatch()
		return cond()
	})
}

// Member is what StartCluster needs of a started node.
type Member interface {
	Join(ctx context.Context, peers []string) (int, error)
	NumAlive() int
}

// StartCluster starts n nodes with start(0) .. start(n-1) (node i is
// called n<i> in failures), joins each to the first at addr(first), and
// waits up to 10 seconds until every node sees all n alive.
func StartCluster[N Member](tb testing.TB, n int, start func(i int) N, addr func(N) string) []N {
	tb.Helper()
	nodes := make([]N, n)
	for i := range nodes {
		nodes[i] = start(i)
		if i > 0 {
			if _, err := nodes[i].Join(context.Background(), []string{addr(nodes[0])}); err != nil {
				tb.Fatalf("join n%d: %v", i, err)
			}
		}
	}
	WaitFor(tb, 10*time.Second, "all nodes alive everywhere", func() bool {
		for _, c := range nodes {
			if c.NumAlive() != n {
				return false
			}
		}
		return true
	})
	return nodes
}
