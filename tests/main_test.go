package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/scriptling-contrib/gossip/host"
)

// runnerPath is the scriptling-gossip command built once for the tests that
// run nodes in separate processes.
var runnerPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gossip-runner")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runnerPath = filepath.Join(dir, "scriptling-gossip")
	build := exec.Command("go", "build", "-o", runnerPath, "../cmd/scriptling-gossip")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the runner:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// Stop whatever a failed script left running, then require that no
	// goroutine (memberlist's, the engine's, a stream's) outlived its node.
	host.Shutdown()
	if code == 0 {
		// ResetRuntime (inside host.Shutdown) reopens Scriptling's in-memory
		// KV store, whose TTL sweeper lives as long as the runtime: it is the
		// only goroutine expected to remain.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/paularlott/snapshotkv.(*DB).ttlCleanupLoop")); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}
