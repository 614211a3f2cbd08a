package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// TestBusyScriptKeepsItsNode: a script that runs no handlers for a while
// (it is busy, here in time.sleep) must not cost its node the membership:
// the node keeps gossiping and stays alive in everyone's view. Reliable
// messages sent meanwhile wait (backpressure) and all arrive, exactly once
// and in order, once the script pumps again; unreliable ones that find the
// queue full are dropped and counted in stats(). The sender is a node of
// this test process, outside the script's interpreter: any call the script
// made into the library would run its handlers.
func TestBusyScriptKeepsItsNode(t *testing.T) {
	const flood, reliableCount = 1500, 300 // more than the 1024 events the queue holds
	sender, err := engine.New(engine.Config{BindAddr: "127.0.0.1:0", NodeID: "busy-sender",
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		GossipInterval: 20 * time.Millisecond, SuspicionMult: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Start(); err != nil {
		t.Fatal(err)
	}
	defer sender.Stop()

	dir := t.TempDir()
	ready, flooded := filepath.Join(dir, "ready"), filepath.Join(dir, "flooded")
	src := fmt.Sprintf(`import os
import os.path
import time
import testkit

d = testkit.node(node_id="busy-d", tags=["sink"])
d.join(%[1]q)
testkit.wait_until(lambda: d.num_alive() == 2, [d], "the sender alive")
reliable = []
unreliable = []
d.handle(200, lambda msg: reliable.append(msg["payload"]))
d.handle(201, lambda msg: unreliable.append(msg["payload"]))
before = d.stats()
os.write_file(%[2]q, "ready")

# Busy: no call into the library until the flood is over and the node has
# been left alone for several seconds (tens of probe rounds).
while not os.path.exists(%[3]q):
    time.sleep(0.05)
time.sleep(3)

assert d.num_alive() == 2, "the sender dropped out of d's view"
testkit.wait_until(lambda: len(reliable) >= %[4]d, [d], "d's reliable backlog")
d.wait(0.2)
assert reliable == list(range(1, %[4]d + 1)), "reliable messages lost, duplicated or reordered"
s = d.stats()
dropped = s["unreliable_dropped"] - before["unreliable_dropped"]
received = s["unreliable_received"] - before["unreliable_received"]
assert dropped > 0, "a full queue dropped no unreliable message: " + str(s)
assert received == len(unreliable), str(received) + " counted, " + str(len(unreliable)) + " handled"
assert received + dropped <= %[5]d, s
assert s["reliable_received"] - before["reliable_received"] == %[4]d, s
assert s["queue_depth"] == 0, s
d.stop()
print("busy ok")
`, sender.LocalNode().Addr, ready, flooded, reliableCount, flood)

	done := make(chan scriptResult, 1)
	path, _ := filepath.Abs("busy.py")
	go func() { done <- runSource(t, path, []byte(src)) }()
	waitFor(t, 30*time.Second, "the script to be ready", func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	waitFor(t, 10*time.Second, "d alive at the sender", func() bool { return stateOf(sender, "busy-d") == "alive" })
	ctx := context.Background()
	for i := 0; i < flood; i++ {
		_ = sender.SendTo(ctx, "busy-d", 201, int64(i), false, -1)
	}
	for i := 1; i <= reliableCount; i++ {
		if err := sender.SendTagged(ctx, "sink", 200, int64(i), true, -1); err != nil {
			t.Fatalf("reliable send %d: %v", i, err)
		}
	}
	if err := os.WriteFile(flooded, []byte("flooded"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The busy node stays alive at the sender the whole time.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st := stateOf(sender, "busy-d"); st != "alive" {
			t.Fatalf("the busy node is %q at the sender while its script sleeps", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var r scriptResult
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the busy script did not finish")
	}
	if r.Err != nil || !strings.Contains(r.Stdout, "busy ok") {
		t.Fatalf("script: %v\n%s\n%s", r.Err, r.Stdout, tail(r.Logs, 20))
	}
}
