package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/testnet"
)

// memberlist's goroutines notice Shutdown when their current probe or
// push/pull returns; VerifyNoLeaks gives them a grace period, so no
// goroutine is ignored wholesale.
func TestMain(m *testing.M) {
	testnet.VerifyNoLeaks(m)
}

// testConfig is a fast-timing config on loopback with a free port.
func testConfig(id string) Config {
	return Config{
		BindAddr:         "127.0.0.1:0",
		NodeID:           id,
		ProbeInterval:    100 * time.Millisecond,
		ProbeTimeout:     50 * time.Millisecond,
		GossipInterval:   20 * time.Millisecond,
		PushPullInterval: time.Second,
		SuspicionMult:    3,
		LeaveTimeout:     time.Second,
	}
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
var waitFor = testnet.WaitFor

// startNode creates and starts a node; it is stopped at test end.
func startNode(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeID, err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("Start(%s): %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { c.stop(false) })
	return c
}

// startCluster starts n nodes (ids n0, n1, ...) joined to the first and
// waits until every node sees all of them alive.
func startCluster(t *testing.T, n int, tweak func(i int, cfg *Config)) []*Cluster {
	t.Helper()
	return testnet.StartCluster(t, n, func(i int) *Cluster {
		cfg := testConfig(fmt.Sprintf("n%d", i))
		if tweak != nil {
			tweak(i, &cfg)
		}
		return startNode(t, cfg)
	}, func(c *Cluster) string { return c.LocalNode().Addr })
}

// recorder collects handler calls safely.
type recorder struct {
	mu   sync.Mutex
	msgs []Message
	n    atomic.Int64
}

func (r *recorder) handle(m Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.n.Add(1)
}

func (r *recorder) all() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// pump dispatches c until cond holds.
var pump = testnet.Pump
