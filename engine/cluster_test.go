package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestThreeNodesJoin(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	for _, c := range nodes {
		ns := c.Nodes()
		if len(ns) != 3 || ns[0].ID != "n0" || ns[2].ID != "n2" {
			t.Fatalf("%s: Nodes() = %+v", c.NodeID(), ns)
		}
		for _, n := range ns {
			if n.State != "alive" || strings.HasSuffix(n.Addr, ":0") {
				t.Fatalf("%s: bad node %+v", c.NodeID(), n)
			}
		}
	}
}

func TestPortZeroAdvertisesRealPort(t *testing.T) {
	c := startNode(t, testConfig("solo"))
	addr := c.LocalNode().Addr
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("advertised %q", addr)
	}
}

func TestJoinFailureNamesPeers(t *testing.T) {
	c := startNode(t, testConfig("lonely"))
	_, err := c.Join(context.Background(), []string{"127.0.0.1:1"})
	if !errors.Is(err, ErrJoinFailed) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}

func TestNotRunning(t *testing.T) {
	c, err := New(testConfig("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), 200, "hi", false, -1); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("send before start: %v", err)
	}
	c.Stop()
	c.Stop()
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{BindAddr: "nope"},
		{BindAddr: "127.0.0.1:0", EncryptionKey: "short"},
		{BindAddr: "127.0.0.1:0", Profile: "moon"},
		{BindAddr: "127.0.0.1:0", Tags: []string{strings.Repeat("t", 600)}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("New(%+v) = %v, want ErrInvalidArgument", cfg, err)
		}
	}
	_, err := New(Config{EncryptionKey: "abc"})
	if err == nil || !strings.Contains(err.Error(), "encryption_key must be 16, 24 or 32 bytes, got 3") {
		t.Fatalf("err = %v", err)
	}
}

type stateLog struct {
	mu  sync.Mutex
	got map[string][]string
}

func (s *stateLog) fn(id, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string][]string{}
	}
	s.got[id] = append(s.got[id], state)
}

func (s *stateLog) has(id, state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.got[id] {
		if st == state {
			return true
		}
	}
	return false
}

func TestGracefulLeave(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	var log stateLog
	nodes[0].OnStateChange(log.fn)
	nodes[2].Stop()
	pump(t, nodes[0], 5*time.Second, "n2 leaving seen by handler", func() bool { return log.has("n2", "leaving") })
	for _, n := range nodes[1].Nodes() {
		if n.ID == "n2" && n.State != "leaving" {
			t.Fatalf("n1 sees n2 as %s", n.State)
		}
	}
	if log.has("n2", "dead") {
		t.Fatalf("graceful leave reported dead: %v", log.got)
	}
}

func TestCrashSuspectThenDead(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	var log stateLog
	nodes[0].OnStateChange(log.fn)
	nodes[2].stop(false)
	pump(t, nodes[0], 10*time.Second, "n2 dead", func() bool { return log.has("n2", "dead") })
	if !log.has("n2", "suspect") {
		t.Fatalf("no suspect before dead: %v", log.got["n2"])
	}
}

func TestJoinEventAlive(t *testing.T) {
	a := startNode(t, testConfig("a"))
	var log stateLog
	a.OnStateChange(log.fn)
	b := startNode(t, testConfig("b"))
	if _, err := b.Join(context.Background(), []string{a.LocalNode().Addr}); err != nil {
		t.Fatal(err)
	}
	pump(t, a, 5*time.Second, "b alive event", func() bool { return log.has("b", "alive") })
}

func TestRebindSamePortAfterStop(t *testing.T) {
	a := startNode(t, testConfig("r1"))
	addr := a.LocalNode().Addr
	a.Stop()
	cfg := testConfig("r1")
	cfg.BindAddr = addr
	b := startNode(t, cfg)
	if b.LocalNode().Addr != addr {
		t.Fatalf("rebound at %s, want %s", b.LocalNode().Addr, addr)
	}
}

func TestWaitReturnsOnTimeoutAndStop(t *testing.T) {
	c := startNode(t, testConfig("w"))
	start := time.Now()
	c.Wait(context.Background(), 50*time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Wait(50ms) took %v", d)
	}
	done := make(chan struct{})
	go func() { c.Wait(context.Background(), -1); close(done) }()
	c.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait(-1) did not return on Stop")
	}
}
