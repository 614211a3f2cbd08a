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

	"github.com/scriptling-contrib/gossip/engine"
)

// crashScript joins the cluster at argv[2] as node "crashy" bound to
// argv[1], reports its address and then serves until it is killed.
const crashScript = `import sys
import scriptling.net.gossip as gossip

c = gossip.create(bind_addr=sys.argv[1], node_id="crashy", probe_interval="100ms",
                  probe_timeout="50ms", gossip_interval="20ms", suspicion_mult=3,
                  push_pull_interval="1s")
c.start()
c.join(sys.argv[2])
print("JOINED " + c.local_node()["addr"])
c.wait()
`

// crashChild is one run of the crash script in its own process.
type crashChild struct {
	cmd  *exec.Cmd
	addr chan string
}

// startCrashChild runs the script bound to bind, joining peer.
func startCrashChild(t *testing.T, script, bind, peer string) *crashChild {
	t.Helper()
	cmd := exec.Command(runnerPath, script, bind, peer)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &crashChild{cmd: cmd, addr: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "JOINED "); ok {
				ch.addr <- a
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(ch.kill)
	return ch
}

// kill sends SIGKILL (no graceful leave, no socket cleanup by the process)
// and reaps the process.
func (ch *crashChild) kill() {
	if ch.cmd.ProcessState != nil {
		return
	}
	_ = ch.cmd.Process.Kill()
	_ = ch.cmd.Wait()
}

// joinedAddr waits for the child to report the address it joined with.
func (ch *crashChild) joinedAddr(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case a := <-ch.addr:
		return a
	case <-time.After(timeout):
		t.Fatalf("child did not join within %v", timeout)
		return ""
	}
}

// crashStateOf is id's state as seen by c ("" when unknown).
func crashStateOf(c *engine.Cluster, id string) string {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n.State
		}
	}
	return ""
}

// pollFor polls cond every 20 ms, dispatching c, until it holds.
func pollFor(t *testing.T, c *engine.Cluster, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		c.Dispatch()
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestCrashAndRestart: a node in another process is killed with SIGKILL;
// the member sees it dead. Restarted with the same node id on the same
// address, it rejoins and is alive again.
func TestCrashAndRestart(t *testing.T) {
	const (
		deadBound  = 15 * time.Second
		aliveBound = 20 * time.Second
	)
	member, err := engine.New(engine.Config{
		BindAddr: "127.0.0.1:0", NodeID: "member",
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		GossipInterval: 20 * time.Millisecond, SuspicionMult: 3, PushPullInterval: time.Second,
		LeaveTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := member.Start(); err != nil {
		t.Fatal(err)
	}
	defer member.Stop()
	memberAddr := member.LocalNode().Addr

	script := filepath.Join(t.TempDir(), "crashy.py")
	if err := os.WriteFile(script, []byte(crashScript), 0o600); err != nil {
		t.Fatal(err)
	}

	first := startCrashChild(t, script, "127.0.0.1:0", memberAddr)
	addr := first.joinedAddr(t, aliveBound)
	pollFor(t, member, aliveBound, "crashy alive", func() bool { return crashStateOf(member, "crashy") == "alive" })

	first.kill()
	took := pollFor(t, member, deadBound, "crashy dead after SIGKILL", func() bool { return crashStateOf(member, "crashy") == "dead" })
	t.Logf("SIGKILLed node seen dead after %v (bound %v)", took.Round(time.Millisecond), deadBound)

	// Same id, same address (UDP and TCP port both reused at once).
	second := startCrashChild(t, script, addr, memberAddr)
	if got := second.joinedAddr(t, aliveBound); got != addr {
		t.Fatalf("restarted node advertises %s, want %s", got, addr)
	}
	took = pollFor(t, member, aliveBound, "crashy alive again", func() bool { return crashStateOf(member, "crashy") == "alive" })
	t.Logf("restarted node seen alive after %v (bound %v)", took.Round(time.Millisecond), aliveBound)
	if n := member.NumAlive(); n != 2 {
		t.Fatalf("member sees %d alive nodes, want 2", n)
	}
	second.kill()
}
