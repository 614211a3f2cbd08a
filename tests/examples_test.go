package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExamples runs every example script through the real runner, as a user
// would, and checks it exits 0 with the output it promises.
func TestExamples(t *testing.T) {
	cases := map[string][]string{
		"basic_cluster.py":     {"Hello!", "peer received: Hello!"},
		"three_node_tags.py":   {"hybrid got: [Hello web nodes!]", "worker got: []"},
		"metadata_state.py":    {"-> alive", "role=worker", "role=leader"},
		"encrypted_cluster.py": {"refused:", "encryption_key must be 16, 24 or 32 bytes, got 29", "peer received 1300 characters"},
		"demo.py":              {"tagged messages:", "worker-1 <- web-1: job #1 for workers", "db-1 is now dead", "demo done"},
	}
	paths, _ := filepath.Glob("../examples/*.py")
	for _, path := range paths {
		name := filepath.Base(path)
		if name == "demo_member.py" {
			continue // started by demo.py
		}
		want, ok := cases[name]
		if !ok {
			t.Errorf("example %s has no test case", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			out := runRunner(t, 2*time.Minute, path)
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// runRunner runs a script with the scriptling-gossip command and returns its
// combined output, failing the test on a non-zero exit.
func runRunner(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runnerPath, args...)
	cmd.Env = append(cmd.Environ(), "SCRIPTLING_GOSSIP_RUNNER="+runnerPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}
