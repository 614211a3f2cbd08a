package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// formationConfig is the LAN-scaled fault config with a push/pull period so
// long (10 minutes) that only the engine's own repair can make up for lost
// gossip within a test. Failure detection runs at LAN speed with a long
// suspicion: with every datagram dropped, probes get through only by
// memberlist's TCP fallback, which a loaded machine can make miss the scaled
// probe deadline, and a false death is not what these tests are about.
func formationConfig(id string, tr *faultnet.Transport) Config {
	cfg := faultConfig(id, tr)
	cfg.PushPullInterval = 10 * time.Minute
	cfg.ProbeInterval = time.Second
	cfg.ProbeTimeout = 500 * time.Millisecond
	cfg.SuspicionMult = 10
	return cfg
}

// formationBound catches the stall class (waiting for a push/pull period,
// here 10 minutes) on a loaded machine; it is not a speed target.
const formationBound = 30 * time.Second

// TestFormationSurvivesLostJoinGossip drops every datagram (so every gossip
// message announcing a joiner is lost) while a storm of nodes joins one
// seed. Only the seed hears of each joiner, over the join's TCP exchange;
// without the engine's repair the older members would not see the joiners
// before the next push/pull, 10 minutes away.
func TestFormationSurvivesLostJoinGossip(t *testing.T) {
	fn := newFaultNet(t)
	const base, joiners = 3, 5
	nodes, addrs := formationCluster(t, fn, base)
	fn.SetLoss(1) // UDP only: streams, and so joins and push/pulls, still work
	var wg sync.WaitGroup
	errs := make([]error, joiners)
	for i := range joiners {
		tr, err := fn.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		c := startNode(t, formationConfig(fmt.Sprintf("j%d", i), tr))
		nodes = append(nodes, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Join(context.Background(), []string{addrs[0]})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("join j%d: %v", i, err)
		}
	}
	n := base + joiners
	deadline := time.Now().Add(formationBound)
	for !allSee(nodes, n) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v with gossip lost, not every node sees all %d alive: %s", formationBound, n, describeViews(nodes))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Bounded: once the bursts die out, no node has run more repairs than
	// the budget allows per push/pull period, however many joins it saw.
	waitIdle(t, nodes)
	for _, c := range nodes {
		if r := c.form.repairs.Load(); r > repairBudget {
			t.Errorf("%s ran %d repair push/pulls, over the budget of %d", c.id, r, repairBudget)
		}
	}
	t.Log(describeViews(nodes))
}

// TestFormationIdleWhenStable checks that once membership is stable no
// repair is pending and no repair goroutine exists: a stable cluster pays
// nothing for the repair.
func TestFormationIdleWhenStable(t *testing.T) {
	fn := newFaultNet(t)
	nodes, _ := formationCluster(t, fn, 4)
	waitIdle(t, nodes)
	repairs := make([]int64, len(nodes))
	for i, c := range nodes {
		repairs[i] = c.form.repairs.Load()
	}
	// Draining the peer table of a stable cluster must not ask for one.
	for _, c := range nodes {
		c.drainChanges()
		c.form.mu.Lock()
		pending := c.form.active || !c.form.first.IsZero()
		c.form.mu.Unlock()
		if pending {
			t.Errorf("%s scheduled a repair although membership is stable", c.id)
		}
	}
	for i, c := range nodes {
		if got := c.form.repairs.Load(); got != repairs[i] {
			t.Errorf("%s ran %d repairs while stable", c.id, got-repairs[i])
		}
	}
}

// TestFormationStopsWithPendingRepair stops a node while a repair waits:
// Stop must end the repair goroutine (goleak in TestMain checks none is
// left) and a stopped node must not schedule another.
func TestFormationStopsWithPendingRepair(t *testing.T) {
	fn := newFaultNet(t)
	nodes, _ := formationCluster(t, fn, 2)
	c := nodes[1]
	c.requestRepair()
	c.stop(false)
	c.requestRepair()
	c.form.mu.Lock()
	defer c.form.mu.Unlock()
	if c.form.active {
		t.Fatal("a repair goroutine runs after Stop")
	}
}

// formationCluster starts n nodes joined to the first on fn, with the long
// push/pull period, and waits until all see each other.
func formationCluster(t *testing.T, fn *faultnet.Network, n int) ([]*Cluster, []string) {
	t.Helper()
	return joinedCluster(t, fn, n, formationConfig, formationBound)
}

// allSee reports whether every node sees n nodes alive.
func allSee(nodes []*Cluster, n int) bool {
	for _, c := range nodes {
		if c.NumAlive() != n {
			return false
		}
	}
	return true
}

// describeViews lists what each node sees and how many repairs it ran.
func describeViews(nodes []*Cluster) string {
	var b strings.Builder
	for _, c := range nodes {
		var ids []string
		for _, p := range c.AliveNodes() {
			ids = append(ids, p.ID)
		}
		fmt.Fprintf(&b, "\n  %s sees %v after %d repairs", c.id, ids, c.form.repairs.Load())
	}
	return b.String()
}

// waitIdle waits until no node has a repair pending or a repair goroutine.
func waitIdle(t *testing.T, nodes []*Cluster) {
	t.Helper()
	waitFor(t, formationBound, "no repair pending on any node", func() bool {
		for _, c := range nodes {
			c.form.mu.Lock()
			busy := c.form.active || !c.form.first.IsZero()
			c.form.mu.Unlock()
			if busy {
				return false
			}
		}
		return true
	})
}
