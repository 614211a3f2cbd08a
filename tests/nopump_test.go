package tests

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nopumpReceiver binds 127.0.0.1:0, reports its address, sleeps 30 s
// without dispatching (longer than the sender's send timeout, the
// retransmission timeout and the probe interval) and then dispatches until
// it has argv[1] messages, checking they arrive exactly once and in order.
const nopumpReceiver = `import sys
import time
import scriptling.net.gossip as gossip

total = int(sys.argv[1])
c = gossip.create(bind_addr="127.0.0.1:0", node_id="rx", probe_interval="100ms",
                  probe_timeout="50ms", gossip_interval="20ms", suspicion_mult=3,
                  push_pull_interval="1s")
state = {"next": 0, "bad": 0}

def on_msg(msg):
    if msg["payload"] != state["next"]:
        state["bad"] = state["bad"] + 1
    state["next"] = msg["payload"] + 1

c.handle(300, on_msg)
c.start()
print("ADDR " + c.local_node()["addr"])
time.sleep(30)
deadline = time.time() + 25
while state["next"] < total and time.time() < deadline:
    c.wait(0.5)
s = c.stats()
print("RESULT next=" + str(state["next"]) + " bad=" + str(state["bad"]) + " dup=" + str(s["reliable_duplicates"]))
c.stop()
`

// nopumpSender joins argv[1] and sends 0..argv[2]-1 reliably with a 1 s
// timeout, retrying a message whose send timed out ("not sent"), and
// reports how many timeouts it retried and what its stats say.
const nopumpSender = `import sys
import scriptling.net.gossip as gossip

total = int(sys.argv[2])
c = gossip.create(bind_addr="127.0.0.1:0", node_id="tx", probe_interval="100ms",
                  probe_timeout="50ms", gossip_interval="20ms", suspicion_mult=3,
                  push_pull_interval="1s")
c.start()
c.join(sys.argv[1])
i = 0
retried = 0
while i < total:
    try:
        c.send(300, i, reliable=True, timeout=1)
        i = i + 1
    except Exception as e:
        if "not sent" not in str(e):
            raise e
        retried = retried + 1
while c.stats()["reliable_unacked"] > 0:
    c.wait(0.2)
s = c.stats()
print("SENT retried=" + str(retried) + " failed=" + str(s["reliable_failed"]) + " acked=" + str(s["reliable_sent"]))
c.stop()
`

// A receiver script that does not dispatch for 30 s while a sender script
// queues 200,000 reliable messages: the sender's sends time out ("not
// sent") and are retried, and once the receiver dispatches it gets every
// message exactly once, in order, with nothing failed at the sender.
func TestReliableReceiverSleepingScript(t *testing.T) {
	const total = "200000"
	dir := t.TempDir()
	rxPath, txPath := filepath.Join(dir, "rx.py"), filepath.Join(dir, "tx.py")
	if err := os.WriteFile(rxPath, []byte(nopumpReceiver), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(txPath, []byte(nopumpSender), 0o644); err != nil {
		t.Fatal(err)
	}
	rx := startLineChild(t, rxPath, total)
	addr := strings.TrimPrefix(rx.line(t, "ADDR ", 20*time.Second), "ADDR ")
	tx := startLineChild(t, txPath, addr, total)
	sent := tx.line(t, "SENT ", 90*time.Second)
	got := rx.line(t, "RESULT ", 90*time.Second)
	t.Logf("sender: %s; receiver: %s", sent, got)
	if !strings.HasPrefix(got, "RESULT next="+total+" bad=0 ") {
		t.Fatalf("receiver: %s", got)
	}
	if !strings.Contains(sent, " failed=0 acked="+total) || strings.Contains(sent, "retried=0 ") {
		t.Fatalf("sender: %s (want retried timeouts, nothing failed, every message acknowledged)", sent)
	}
}

// lineChild is a script process whose output lines are watched.
type lineChild struct {
	cmd   *exec.Cmd
	lines chan string
}

func startLineChild(t *testing.T, args ...string) *lineChild {
	t.Helper()
	cmd := exec.Command(runnerPath, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &lineChild{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ch.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return ch
}

// line waits for an output line starting with prefix.
func (ch *lineChild) line(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-ch.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line within %v", prefix, timeout)
			return ""
		}
	}
}
