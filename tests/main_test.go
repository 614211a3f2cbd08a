package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
	os.Exit(code)
}
