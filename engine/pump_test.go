package engine

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPumpRunsEveryMember checks that nodes sharing a pump are pumped
// together: waiting on one node, or on the pump, runs the other's handlers,
// and the pump's Wait(-1) returns once every member has stopped.
func TestPumpRunsEveryMember(t *testing.T) {
	pump := NewPump()
	nodes := startCluster(t, 3, func(i int, cfg *Config) {
		if i < 2 {
			cfg.Pump = pump
		}
	})
	a, b, outsider := nodes[0], nodes[1], nodes[2]
	var atB, atOutsider recorder
	_ = b.Handle(200, atB.handle)
	_ = outsider.Handle(200, atOutsider.handle)
	for _, to := range []string{"n1", "n2"} {
		if err := a.SendTo(context.Background(), to, 200, "x", true, -1); err != nil {
			t.Fatal(err)
		}
	}
	// Waiting on a runs b's handler: they share the pump.
	deadline := time.Now().Add(10 * time.Second)
	for atB.n.Load() == 0 && time.Now().Before(deadline) {
		_ = a.Wait(context.Background(), 20*time.Millisecond)
	}
	if atB.n.Load() != 1 {
		t.Fatalf("b's handler ran %d times while a waited, want 1", atB.n.Load())
	}
	if atOutsider.n.Load() != 0 {
		t.Fatal("a node outside the pump had its handler run by the pump")
	}
	// The pump's own wait runs them too, and ends when its members stop.
	_ = a.SendTo(context.Background(), "n1", 200, "y", true, -1)
	done := make(chan error, 1)
	go func() { done <- pump.Wait(context.Background(), -1) }()
	waitFor(t, 10*time.Second, "b's second message", func() bool { return atB.n.Load() == 2 })
	a.Stop()
	select {
	case <-done:
		t.Fatal("pump.Wait(-1) returned with b still running")
	case <-time.After(300 * time.Millisecond):
	}
	b.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pump.Wait(-1) did not return once every member stopped")
	}
	// An empty pump has nothing to wait for.
	if err := NewPump().Wait(context.Background(), -1); err != nil {
		t.Fatal(err)
	}
}

// TestPumpWaitEndsWithContext checks that a cancel ends the pump's wait.
func TestPumpWaitEndsWithContext(t *testing.T) {
	pump := NewPump()
	cfg := testConfig("ctx")
	cfg.Pump = pump
	startNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := pump.Wait(ctx, -1); err != context.DeadlineExceeded {
		t.Fatalf("Wait = %v, want the context's deadline", err)
	}
}

// TestStallIsReportedOncePerStall checks the warning for events nobody
// dispatches: one line once they have waited past stallAfter, none while
// the stall goes on, and one again for the next stall after a dispatch.
func TestStallIsReportedOncePerStall(t *testing.T) {
	var logs lockedBuffer
	nodes := startCluster(t, 2, func(i int, cfg *Config) {
		if i == 1 {
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
	})
	a, b := nodes[0], nodes[1]
	b.Dispatch() // the formation's state events: not part of the stall
	stalls := func() int { return strings.Count(logs.String(), "events are waiting for their handlers") }
	for i := 0; i < 3; i++ {
		_ = a.SendTo(context.Background(), "n1", 200, i, true, -1)
	}
	waitFor(t, 10*time.Second, "a stall warning", func() bool { return stalls() == 1 })
	if !strings.Contains(logs.String(), "waiting=3") {
		t.Errorf("the warning does not say how many events wait: %s", logs.String())
	}
	// Still stalled, more events: no second line for the same stall.
	_ = a.SendTo(context.Background(), "n1", 200, 3, true, -1)
	stillStalled := time.Now().Add(stallAfter + 500*time.Millisecond)
	waitFor(t, 10*time.Second, "the stall to go on past another stallAfter", func() bool { return time.Now().After(stillStalled) })
	if n := stalls(); n != 1 {
		t.Fatalf("%d warnings for one stall, want 1", n)
	}
	// Dispatch ends it; the next stall is reported again.
	b.Dispatch()
	_ = a.SendTo(context.Background(), "n1", 200, 4, true, -1)
	waitFor(t, 10*time.Second, "a warning for the second stall", func() bool { return stalls() == 2 })
}
