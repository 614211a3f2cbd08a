package tests

import (
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
time.sleep(3.5)
print("handled while sleeping:", len(got))
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
	warnings := strings.Count(r.Logs, "events are waiting for their handlers")
	if warnings != 1 {
		t.Fatalf("%d stall warnings, want 1:\n%s", warnings, r.Logs)
	}
	for _, want := range []string{"waiting=3", "wait()", "time.sleep()", "level=WARN"} {
		if !strings.Contains(r.Logs, want) {
			t.Errorf("the warning lacks %q:\n%s", want, r.Logs)
		}
	}
}
