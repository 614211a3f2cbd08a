package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Every timing override of Config must reach memberlist's configuration,
// and negative values must be refused.
func TestTimingOverridesReachMemberlist(t *testing.T) {
	cfg := Config{
		BindAddr: "127.0.0.1:0", Profile: ProfileWAN,
		ProbeInterval: 111 * time.Millisecond, ProbeTimeout: 22 * time.Millisecond,
		GossipInterval: 33 * time.Millisecond, PushPullInterval: 4444 * time.Millisecond,
		DeadNodeReclaimTime: 5555 * time.Millisecond, SuspicionMult: 7, RetransmitMult: 8, GossipNodes: 9,
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := c.memberlistConfig()
	if err != nil {
		t.Fatal(err)
	}
	if mc.ProbeInterval != cfg.ProbeInterval || mc.ProbeTimeout != cfg.ProbeTimeout ||
		mc.GossipInterval != cfg.GossipInterval || mc.PushPullInterval != cfg.PushPullInterval ||
		mc.DeadNodeReclaimTime != cfg.DeadNodeReclaimTime || mc.SuspicionMult != 7 ||
		mc.RetransmitMult != 8 || mc.GossipNodes != 9 {
		t.Fatalf("overrides not applied: %+v", mc)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.ProbeInterval = -1 },
		func(c *Config) { c.ProbeTimeout = -1 },
		func(c *Config) { c.GossipInterval = -1 },
		func(c *Config) { c.PushPullInterval = -1 },
		func(c *Config) { c.DeadNodeReclaimTime = -1 },
		func(c *Config) { c.SuspicionMult = -1 },
		func(c *Config) { c.Profile = "fast" },
	} {
		cfg := testConfig("x")
		bad(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("bad config accepted: %v", err)
		}
	}
}

func TestRequestReplyAndQueries(t *testing.T) {
	// One pump runs both nodes' handlers, so b's reply handler runs while
	// a waits for the reply on this goroutine.
	pump := NewPump()
	nodes := startCluster(t, 2, func(_ int, c *Config) { c.Pump = pump })
	a, b := nodes[0], nodes[1]
	if err := b.HandleWithReply(200, func(m Message) (any, error) {
		if m.Payload == "fail" {
			return nil, errors.New("boom")
		}
		return map[string]any{"echo": m.Payload}, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := a.SendRequest(context.Background(), "n1", 200, "hi", 5*time.Second)
	if err != nil || got.(map[string]any)["echo"] != "hi" {
		t.Fatalf("reply %v, %v", got, err)
	}
	if _, err := a.SendRequest(context.Background(), "n1", 200, "fail", 5*time.Second); !errors.Is(err, ErrRemote) {
		t.Fatalf("remote error: %v", err)
	}
	if _, err := a.SendRequest(context.Background(), "n1", 201, 1, 5*time.Second); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("no handler: %v", err)
	}
	if _, err := a.SendRequest(context.Background(), "ghost", 200, 1, time.Second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
	if ok, _ := b.Unhandle(200); !ok {
		t.Fatal("Unhandle found nothing")
	}
	if n, ok := a.GetNode("n1"); !ok || n.ID != "n1" {
		t.Fatalf("GetNode: %+v %v", n, ok)
	}
	if _, ok := a.GetNode("ghost"); ok {
		t.Fatal("GetNode found a ghost")
	}
	if cs, _ := a.Candidates(5); len(cs) != 1 || cs[0].ID != "n1" {
		t.Fatalf("Candidates: %+v", cs)
	}
}
