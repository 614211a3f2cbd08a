package engine

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// TestSendsReachSuspectNodes cuts one node off long enough to be suspected
// (not declared dead) and sends to it meanwhile: reliable broadcasts,
// tag-routed sends and send_to all keep the message in its window and
// deliver it, exactly once and in order, when the node is reachable again.
// Skipping it would silently lose reliable broadcasts to a node that was
// only slow. Unreliable sends to it are accepted too; a dead node is
// refused.
func TestSendsReachSuspectNodes(t *testing.T) {
	fn := newFaultNet(t)
	// A long suspicion leaves time to heal before f2 would be declared dead.
	slow := func(id string, tr *faultnet.Transport) Config {
		cfg := faultConfig(id, tr)
		cfg.SuspicionMult = 200
		if id == "f2" {
			cfg.Tags = []string{"db"}
		}
		return cfg
	}
	nodes, addrs := joinedCluster(t, fn, 3, slow, 15*time.Second)
	var recs [3]recorder
	for i, c := range nodes {
		if err := c.Handle(faultMsgType, recs[i].handle); err != nil {
			t.Fatal(err)
		}
	}
	payloads := func(i int) []string {
		var got []string
		for _, m := range recs[i].all() {
			got = append(got, m.Payload.(string))
		}
		return got
	}

	fn.Isolate(addrs[2])
	pump(t, nodes[0], 10*time.Second, "f0 seeing f2 suspect", func() bool {
		p := nodes[0].peers.get("f2")
		return p != nil && p.state == StateSuspect
	})
	ctx := context.Background()
	// Reliable broadcasts return once the message is in every window.
	if err := nodes[0].Send(ctx, faultMsgType, "broadcast", true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].SendTagged(ctx, "db", faultMsgType, "tagged", true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].SendTo(ctx, "f2", faultMsgType, "lost on the cut", false, -1); err != nil {
		t.Fatalf("unreliable send_to a suspect node: %v", err)
	}
	// A reliable send_to returns once acknowledged, which f2 cannot do
	// while cut off: run it aside and let it finish after the heal.
	direct := make(chan error, 1)
	go func() { direct <- nodes[0].SendTo(ctx, "f2", faultMsgType, "direct", true, 30*time.Second) }()
	pump(t, nodes[1], 10*time.Second, "f1 getting the broadcast", func() bool { return recs[1].n.Load() == 1 })
	if p := nodes[0].peers.get("f2"); p == nil || p.state != StateSuspect {
		t.Fatalf("f2 is no longer suspect when the sends are done: %+v", p)
	}

	fn.Heal()
	pump(t, nodes[2], 20*time.Second, "f2 getting what was sent while it was suspect", func() bool {
		return recs[2].n.Load() >= 3
	})
	pump(t, nodes[0], 10*time.Second, "send_to returning", func() bool { return len(direct) == 1 })
	if err := <-direct; err != nil {
		t.Fatalf("reliable send_to a suspect node: %v", err)
	}
	// A marker sent after the heal on the same ordered stream: once f2 has
	// it, nothing sent before it is still on the way.
	if err := nodes[0].SendTo(ctx, "f2", faultMsgType, "marker", true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[2], 10*time.Second, "f2 getting the marker", func() bool { return recs[2].n.Load() >= 4 })
	if got := payloads(2); !slices.Equal(got, []string{"broadcast", "tagged", "direct", "marker"}) {
		t.Errorf("f2 got %q, want each reliable message once, in order", got)
	}
	nodes[1].Dispatch()
	if got := payloads(1); !slices.Equal(got, []string{"broadcast"}) {
		t.Errorf("f1 got %q, want the broadcast only (it does not carry the tag)", got)
	}
}

// TestSendToDeadNodeRefused checks the other side of sendable: a node
// declared dead is not a destination.
func TestSendToDeadNodeRefused(t *testing.T) {
	fn := newFaultNet(t)
	nodes, addrs := faultCluster(t, fn, 3)
	fn.Isolate(addrs[2])
	pump(t, nodes[0], 15*time.Second, "f0 declaring f2 dead", func() bool {
		p := nodes[0].peers.get("f2")
		return p != nil && p.state == StateDead
	})
	for _, reliable := range []bool{false, true} {
		err := nodes[0].SendTo(context.Background(), "f2", faultMsgType, "x", reliable, time.Second)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("send_to a dead node (reliable=%v): %v, want ErrNotFound", reliable, err)
		}
	}
}
