package tests

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// TestInterruptLeavesGracefully runs a node in a separate runner process,
// interrupts it as Ctrl-C would, and checks that the runner exits 0 after
// stopping the cluster, and that the peer records the node as leaving, not
// failed.
func TestInterruptLeavesGracefully(t *testing.T) {
	seed, err := engine.New(engine.Config{BindAddr: "127.0.0.1:0", ProbeInterval: 100 * time.Millisecond,
		ProbeTimeout: 50 * time.Millisecond, GossipInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Start(); err != nil {
		t.Fatal(err)
	}
	defer seed.Stop()

	cmd := exec.Command(runnerPath, "procs/wait_member.py", seed.LocalNode().Addr, "interrupted-member")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "joined") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("member did not join: %q %s", lines.Text(), stderr.String())
	}
	waitFor(t, 20*time.Second, "member alive at the seed", func() bool {
		return stateOf(seed, "interrupted-member") == "alive"
	})

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		for lines.Scan() {
		}
		exited <- cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("runner exit after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("runner did not exit within 30 s of SIGINT")
	}
	waitFor(t, 20*time.Second, "member recorded as leaving", func() bool {
		return stateOf(seed, "interrupted-member") == "leaving"
	})
}

// stateOf returns the state c records for node id, or "" if unknown.
func stateOf(c *engine.Cluster, id string) string {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n.State
		}
	}
	return ""
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
