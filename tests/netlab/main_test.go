// Package netlab proves the library's guarantees on a network of separate
// hosts: every host is a Linux network namespace with its own address on a
// bridge, running the scriptling-gossip runner in its own process, and the
// lab breaks the network (nftables loss and partitions) and the processes
// (SIGKILL, SIGSTOP, CPU load) while the scenarios check their invariants.
//
// The lab needs root and nft. Outside CI the tests skip when either is
// missing; with CI=true a missing prerequisite fails the run.
package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
)

// runnerPath is the scriptling-gossip command, built once per test run
// (without -race: the hosts are the system under test, not the harness).
var runnerPath string

// scriptsDir holds the lab's scripts, as an absolute path: the runner is
// started from inside a namespace with the test's working directory.
var scriptsDir string

// missing says which prerequisite is absent ("" when the lab can run).
var missing string

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	missing = missingPrerequisite()
	if missing != "" {
		fmt.Fprintln(os.Stderr, "netlab:", missing)
		if os.Getenv("CI") == "true" {
			os.Exit(1)
		}
		os.Exit(m.Run()) // every lab test skips with the same line
	}
	os.Exit(runLab(m))
}

// runLab builds the runner, clears what an earlier, killed run left behind,
// and makes sure an interrupt still removes every namespace and process.
func runLab(m *testing.M) int {
	abs, err := filepath.Abs("scripts")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	scriptsDir = abs
	dir, err := os.MkdirTemp("", "netlab-runner")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	runnerPath = filepath.Join(dir, "scriptling-gossip")
	build := exec.Command("go", "build", "-o", runnerPath, "../../cmd/scriptling-gossip")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "netlab: building the runner:", err)
		return 1
	}

	sweepStaleNamespaces()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "netlab: %v: removing the lab\n", sig)
		created.removeAll()
		os.RemoveAll(dir)
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(signals)
	created.removeAll() // anything a test's cleanup could not reach
	return code
}

// missingPrerequisite names what the lab lacks to run here, or "".
func missingPrerequisite() string {
	if os.Geteuid() != 0 {
		return "the network lab needs root (network namespaces, nftables); run as root or with sudo"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("the network lab needs %q on PATH (apt-get install -y iproute2 nftables)", tool)
		}
	}
	return ""
}

// requireLab skips (or, in CI, fails) a lab test that cannot run here.
func requireLab(t *testing.T) {
	t.Helper()
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("netlab: " + missing)
	}
	t.Skip("netlab: " + missing)
}
