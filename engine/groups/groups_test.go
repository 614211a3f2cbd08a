package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/testnet"
)

func TestMain(m *testing.M) {
	testnet.VerifyNoLeaks(m)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // catches a stall, not a speed
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startCluster(t *testing.T, n int) []*engine.Cluster {
	t.Helper()
	nodes := make([]*engine.Cluster, n)
	for i := range nodes {
		c, err := engine.New(engine.Config{
			BindAddr: "127.0.0.1:0", NodeID: fmt.Sprintf("n%d", i),
			ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
			GossipInterval: 20 * time.Millisecond, PushPullInterval: time.Second,
			SuspicionMult: 3, LeaveTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
		if i > 0 {
			if _, err := c.Join(context.Background(), []string{nodes[0].LocalNode().Addr}); err != nil {
				t.Fatal(err)
			}
		}
		nodes[i] = c
	}
	waitFor(t, "all alive", func() bool {
		for _, c := range nodes {
			if c.NumAlive() != n {
				return false
			}
		}
		return true
	})
	return nodes
}

// A group follows metadata, this node's own included: entries and exits
// are reported once each, in Dispatch, and stop after Close.
func TestGroupFollowsMetadata(t *testing.T) {
	nodes := startCluster(t, 2)
	c := nodes[0]
	var added, removed []string
	g, err := New(c, map[string]string{"role": "worker"}, func(n engine.Node) { added = append(added, n.ID) }, func(n engine.Node) { removed = append(removed, n.ID) })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetMetadata("role", "worker"); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].SetMetadata("role", "worker"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both nodes in the group", func() bool { c.Dispatch(); return g.Count() == 2 })
	if len(g.Nodes()) != 2 || !g.Contains("n0") || !g.Contains("n1") {
		t.Fatalf("members %v", g.Nodes())
	}
	if err := nodes[1].SetMetadata("role", "idle"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1 leaves the group", func() bool { c.Dispatch(); return !g.Contains("n1") })
	slices.Sort(added)
	if !slices.Equal(added, []string{"n0", "n1"}) || !slices.Equal(removed, []string{"n1"}) {
		t.Fatalf("added %v removed %v", added, removed)
	}
	if err := g.SendToPeers(context.Background(), engine.MinUserMessageType, "x", false, -1); err != nil {
		t.Fatal(err)
	}
	g.Close()
	g.Close()
	if err := nodes[1].SetMetadata("role", "worker"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1's change seen", func() bool {
		c.Dispatch()
		n, _ := c.GetNode("n1")
		return n.Metadata["role"] == "worker"
	})
	c.Dispatch()
	if len(added) != 2 || g.Count() != 0 {
		t.Fatalf("after Close: added %v, count %d", added, g.Count())
	}
	if err := g.SendToPeers(context.Background(), engine.MinUserMessageType, "x", false, -1); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("SendToPeers after Close: %v", err)
	}
}

// Criteria match exact values, presence and substrings, by their text.
func TestMatch(t *testing.T) {
	meta := map[string]any{"role": "web", "zone": "us-east", "n": int64(3), "f": 2.5, "b": true}
	for _, tc := range []struct {
		crit map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"role": "web"}, true},
		{map[string]string{"role": "db"}, false},
		{map[string]string{"zone": "~us-"}, true},
		{map[string]string{"zone": "~eu-"}, false},
		{map[string]string{"missing": "*"}, false},
		{map[string]string{"role": "*", "n": "3", "f": "2.5", "b": "true"}, true},
	} {
		if got := Match(tc.crit, meta); got != tc.want {
			t.Errorf("Match(%v) = %v, want %v", tc.crit, got, tc.want)
		}
	}
	if Counted(nil, engine.Node{Observer: true}) {
		t.Error("an observer is counted")
	}
	if err := CheckCriteria(map[string]string{"": "x"}, "criteria"); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("empty key: %v", err)
	}
}
