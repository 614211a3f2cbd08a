package election

import (
	"context"
	"fmt"
	"testing"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/engine/groups"
)

// An observer joining a three-node cluster that runs an election and a
// node group over every node (no criteria, so it would match) is seen as
// an observer by all, is in no electorate and no group, changes neither
// the leader nor its term, sees everyone's metadata, and is "leaving"
// everywhere once it left.
func TestObserverIsNotCounted(t *testing.T) {
	en := startElectionNet(t, 3)
	for i, c := range en.nodes {
		if err := c.SetMetadata("role", fmt.Sprintf("r%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	gs := make([]*groups.Group, len(en.nodes))
	for i, c := range en.nodes {
		g, err := groups.New(c, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		gs[i] = g
	}
	leader, term := en.waitLeader(t, "first leader", indexes(0, 3))
	for i, g := range gs {
		pump(t, en.nodes[i], testTimeout, "group of three", func() bool { g.Dispatch(); return g.Count() == 3 })
	}

	tr, err := en.net.NewTransportAuto()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("observer")
	cfg.Transport, cfg.BindAddr, cfg.Observer = tr, tr.Addr(), true
	obs, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	Enable(obs)
	if err := obs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.Stop)
	if _, err := obs.Join(context.Background(), []string{en.addrs[0]}); err != nil {
		t.Fatal(err)
	}
	if !obs.LocalNode().Observer {
		t.Fatal("LocalNode of an observer has Observer false")
	}
	for i, c := range en.nodes {
		waitFor(t, testTimeout, fmt.Sprintf("n%d sees the observer", i), func() bool {
			n, ok := c.GetNode("observer")
			return ok && n.State == string(engine.StateAlive) && n.Observer
		})
		if n, _ := c.GetNode(c.NodeID()); n.Observer {
			t.Fatalf("n%d reports itself as an observer", i)
		}
	}
	waitFor(t, testTimeout, "the observer's metadata view", func() bool {
		if !obs.MetadataCurrent() || obs.NumAlive() != 4 {
			return false
		}
		for i := range en.nodes {
			if n, _ := obs.GetNode(fmt.Sprintf("n%d", i)); n.Metadata["role"] != fmt.Sprintf("r%d", i) {
				return false
			}
		}
		return true
	})
	// Several election checks and group reconciliations with the observer
	// alive everywhere.
	holdFor(t, 3*testLease, "observer alive", func() error {
		for i := range en.nodes {
			if s := en.els[i].electorateSize(); s != 3 {
				return fmt.Errorf("n%d: electorate of %d", i, s)
			}
			gs[i].Dispatch()
			if n := gs[i].Count(); n != 3 || gs[i].Contains("observer") {
				return fmt.Errorf("n%d: group of %d: %v", i, n, gs[i].Nodes())
			}
			if id, ok := en.els[i].GetLeaderID(); !ok || id != en.nodes[leader].NodeID() {
				return fmt.Errorf("n%d: leader %q (known %v), want n%d", i, id, ok, leader)
			}
			if got := en.els[i].GetTerm(); got != int(term) {
				return fmt.Errorf("n%d: term %d, want %d", i, got, term)
			}
		}
		return nil
	})

	obs.Stop()
	for i, c := range en.nodes {
		waitFor(t, testTimeout, fmt.Sprintf("n%d sees the observer leave", i), func() bool {
			n, ok := c.GetNode("observer")
			return !ok || n.State == string(engine.StateLeaving)
		})
	}
}
