package election

import (
	"fmt"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/testnet"
)

// memberlist's goroutines notice Shutdown when their current probe or
// push/pull returns; VerifyNoLeaks gives them a grace period, so no
// goroutine is ignored wholesale.
func TestMain(m *testing.M) {
	testnet.VerifyNoLeaks(m)
}

// testConfig is a fast-timing config on loopback with a free port.
func testConfig(id string) engine.Config {
	return engine.Config{
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

// startNode creates, enables as a voter and starts a node, as the binding
// does; it is stopped at test end.
func startNode(t *testing.T, cfg engine.Config) *engine.Cluster {
	t.Helper()
	c, err := engine.New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeID, err)
	}
	Enable(c)
	if err := c.Start(); err != nil {
		t.Fatalf("Start(%s): %v", cfg.NodeID, err)
	}
	t.Cleanup(c.Stop)
	return c
}

// startCluster starts n nodes (ids n0, n1, ...) joined to the first and
// waits until every node sees all of them alive.
func startCluster(t *testing.T, n int, tweak func(i int, cfg *engine.Config)) []*engine.Cluster {
	t.Helper()
	return testnet.StartCluster(t, n, func(i int) *engine.Cluster {
		cfg := testConfig(fmt.Sprintf("n%d", i))
		if tweak != nil {
			tweak(i, &cfg)
		}
		return startNode(t, cfg)
	}, func(c *engine.Cluster) string { return c.LocalNode().Addr })
}

// pump dispatches c until cond holds.
var pump = testnet.Pump
