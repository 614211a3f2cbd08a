package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestSleepingScriptIsWarned runs the natural-looking but wrong server loop
// (time.sleep instead of wait) and checks that the library says so on its
// logger once, naming how many events wait and where handlers run.
func TestSleepingScriptIsWarned(t *testing.T) {
	src := `import time
import scriptling.net.gossip as gossip
import testkit

a = testkit.node(node_id="sleepy-a")
b = testkit.node(node_id="sleepy-b")
b.join(testkit.addr(a))
testkit.wait_until(lambda: a.num_alive() == 2, [a, b], "both alive")
got = []
b.handle(130, lambda msg: got.append(msg["payload"]))
for i in range(3):
    a.send_to(b.node_id(), 130, i, reliable=True)
# Each send runs the handlers already queued, so some may have run here.
before = len(got)
time.sleep(3.5)
print("handled while sleeping:", len(got) - before)
a.num_alive()
print("handled after a call:", len(got))
a.stop()
b.stop()
`
	path, _ := filepath.Abs("sleepy.py")
	r := runSource(t, path, []byte(src))
	if r.Err != nil {
		t.Fatalf("script failed: %v\n%s", r.Err, r.Stdout)
	}
	if !strings.Contains(r.Stdout, "handled while sleeping: 0") || !strings.Contains(r.Stdout, "handled after a call: 3") {
		t.Fatalf("handlers ran at the wrong time:\n%s", r.Stdout)
	}
	// b's messages make one stall, reported once. (a may report a
	// stall of its own if a state change reached it during the sleep.)
	var lines []string
	for _, l := range strings.Split(r.Logs, "\n") {
		if strings.Contains(l, "events are waiting for their handlers") && strings.Contains(l, "node=sleepy-b") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d stall warnings from b, want 1:\n%s", len(lines), r.Logs)
	}
	// The messages not handled before the sleep, and any state change.
	var waiting int
	if _, after, ok := strings.Cut(lines[0], "waiting="); !ok {
		t.Errorf("the warning does not say how many events wait: %s", lines[0])
	} else if _, err := fmt.Sscanf(after, "%d", &waiting); err != nil || waiting < 1 {
		t.Errorf("the warning counts %d waiting events, want at least 1: %s", waiting, lines[0])
	}
	for _, want := range []string{"wait()", "time.sleep()", "level=WARN"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the warning lacks %q: %s", want, lines[0])
		}
	}
}
