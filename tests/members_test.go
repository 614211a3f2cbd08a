package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	electionpkg "github.com/scriptling-contrib/gossip/engine/election"
	"github.com/scriptling-contrib/gossip/engine/groups"
)

// Tests of `scriptling-gossip members`, run as a separate process against
// a cluster of engine nodes in the test process.

// membersTimeout bounds one members run: it catches a hang, not a speed.
const membersTimeout = 60 * time.Second

// membersCluster is three nodes on loopback with tags and metadata.
type membersCluster struct {
	nodes []*engine.Cluster
}

// startMembersCluster starts nodes m0, m1, m2 (tweak adjusts each config)
// and waits until each sees all three alive with everyone's metadata.
func startMembersCluster(t *testing.T, tweak func(cfg *engine.Config)) *membersCluster {
	t.Helper()
	mc := &membersCluster{}
	tags := [][]string{{"web"}, {"worker"}, {"web", "worker"}}
	for i := range 3 {
		cfg := engine.Config{
			BindAddr: "127.0.0.1:0", NodeID: fmt.Sprintf("m%d", i), Tags: tags[i],
			ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
			GossipInterval: 20 * time.Millisecond, SuspicionMult: 3, PushPullInterval: time.Second,
		}
		if tweak != nil {
			tweak(&cfg)
		}
		c, err := engine.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Stop() })
		for k, v := range map[string]any{"role": fmt.Sprintf("r%d", i), "load": 0.25 * float64(i), "rank": int64(i)} {
			if err := c.SetMetadata(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if i > 0 {
			if _, err := c.Join(context.Background(), []string{mc.seed()}); err != nil {
				t.Fatal(err)
			}
		}
		mc.nodes = append(mc.nodes, c)
	}
	waitFor(t, 30*time.Second, "three nodes with metadata everywhere", func() bool {
		for _, c := range mc.nodes {
			if c.NumAlive() != 3 {
				return false
			}
			for _, n := range c.Nodes() {
				if _, ok := n.Metadata["rank"]; !ok {
					return false
				}
			}
		}
		return true
	})
	return mc
}

func (mc *membersCluster) seed() string { return mc.nodes[0].LocalNode().Addr }

// membersRun is one finished members process.
type membersRun struct {
	code           int
	stdout, stderr string
}

// startMembers starts the members subcommand with args; wait collects it.
func startMembers(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(runnerPath, append([]string{"members"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

// waitMembers waits for the process, killing it past membersTimeout.
func waitMembers(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) membersRun {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(membersTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("members did not exit within %v\nstderr: %s", membersTimeout, stderr)
	}
	return membersRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// runMembers runs the members subcommand to completion.
func runMembers(t *testing.T, args ...string) membersRun {
	t.Helper()
	cmd, stdout, stderr := startMembers(t, args...)
	return waitMembers(t, cmd, stdout, stderr)
}

// requireRefusal checks a run that must fail with one line on stderr
// containing want.
func requireRefusal(t *testing.T, r membersRun, want string) {
	t.Helper()
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit %d, want 1, with no output; stdout: %q stderr: %q", r.code, r.stdout, r.stderr)
	}
	if lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(r.stderr, "members: ") {
		t.Fatalf("stderr is not one \"members: \" line: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q lacks %q", r.stderr, want)
	}
	t.Logf("stderr: %s", r.stderr)
}

// The observer never enters an election's electorate or a node group:
// while `members` runs, every node sees it (flagged as an observer) and
// yet leadership, term and group sizes stay as they were. It prints all
// three nodes with their tags and metadata, and afterwards every node
// records it as having left.
func TestMembersObserverIsNotCounted(t *testing.T) {
	mc := startMembersCluster(t, nil)
	var els []*electionpkg.Election
	var gs []*groups.Group
	var addedMu sync.Mutex
	var added []string
	for _, c := range mc.nodes {
		e, err := electionpkg.New(c, 50*time.Millisecond, 400*time.Millisecond, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Stop)
		els = append(els, e)
		// No criteria: every node matches, so only the observer flag keeps
		// the observer out.
		g, err := groups.New(c, nil, func(n engine.Node) {
			addedMu.Lock()
			added = append(added, n.ID)
			addedMu.Unlock()
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		gs = append(gs, g)
	}
	var leader string
	var term int
	waitFor(t, 30*time.Second, "one leader known to all, groups of three", func() bool {
		ids := map[string]bool{}
		for i, e := range els {
			gs[i].Dispatch()
			id, ok := e.GetLeaderID()
			if !ok || gs[i].Count() != 3 {
				return false
			}
			ids[id] = true
		}
		if len(ids) != 1 {
			return false
		}
		leader, _ = els[0].GetLeaderID()
		term = els[0].GetTerm()
		return true
	})

	cmd, stdout, stderr := startMembers(t, mc.seed())
	exited := make(chan struct{})
	var run membersRun
	go func() {
		defer close(exited)
		run = waitMembers(t, cmd, stdout, stderr)
	}()
	seen := make([]string, len(mc.nodes)) // the observer's id, as each node saw it alive
	check := func() error {
		for i, c := range mc.nodes {
			for _, n := range c.AliveNodes() {
				if n.Observer {
					seen[i] = n.ID
				}
			}
			gs[i].Dispatch()
			if n := gs[i].Count(); n != 3 {
				return fmt.Errorf("m%d: group of %d: %v", i, n, gs[i].Nodes())
			}
			if id, ok := els[i].GetLeaderID(); !ok || id != leader || els[i].GetTerm() != term {
				return fmt.Errorf("m%d: leader %q (known %v) in term %d, want %s in term %d", i, id, ok, els[i].GetTerm(), leader, term)
			}
		}
		return nil
	}
	for running := true; running; {
		select {
		case <-exited:
			running = false
		case <-time.After(10 * time.Millisecond):
		}
		if err := check(); err != nil {
			t.Fatalf("while members ran: %v", err)
		}
	}
	if run.code != 0 {
		t.Fatalf("members exit %d\nstdout: %s\nstderr: %s", run.code, run.stdout, run.stderr)
	}
	observer := seen[0]
	for i, id := range seen {
		if id == "" || id != observer || !strings.HasPrefix(id, "members-") {
			t.Fatalf("m%d saw observer %q alive, m0 saw %q", i, id, observer)
		}
	}
	addedMu.Lock()
	for _, id := range added {
		if id == observer {
			t.Fatalf("a group reported the observer as added: %v", added)
		}
	}
	addedMu.Unlock()

	want := [][]string{
		{"ID", "ADDR", "STATE", "TAGS", "METADATA"},
		{"m0", "", "alive", "web", "load=0, rank=0, role=r0"},
		{"m1", "", "alive", "worker", "load=0.25, rank=1, role=r1"},
		{"m2", "", "alive", "web,worker", "load=0.5, rank=2, role=r2"},
	}
	for i, c := range mc.nodes {
		want[i+1][1] = c.LocalNode().Addr
	}
	lines := strings.Split(strings.TrimSuffix(run.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("table has %d lines, want %d:\n%s", len(lines), len(want), run.stdout)
	}
	// Cells are cut at the columns of the header, so this also checks that
	// they line up.
	var starts []int
	for _, col := range want[0] {
		starts = append(starts, strings.Index(lines[0], col))
	}
	for i, line := range lines {
		for j, cell := range want[i] {
			end := len(line)
			if j+1 < len(starts) {
				end = min(starts[j+1], len(line))
			}
			if got := strings.TrimRight(line[min(starts[j], len(line)):end], " "); got != cell {
				t.Fatalf("line %d column %s is %q, want %q:\n%s", i, want[0][j], got, cell, run.stdout)
			}
		}
	}
	for i, c := range mc.nodes {
		waitFor(t, 20*time.Second, fmt.Sprintf("m%d records the observer as left", i), func() bool {
			s := stateOf(c, observer)
			return s == "leaving" || s == ""
		})
	}
}

// -json prints an array of node objects with the keys of node dicts and
// the metadata's types.
func TestMembersJSON(t *testing.T) {
	mc := startMembersCluster(t, nil)
	r := runMembers(t, "-json", mc.seed())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var nodes []struct {
		ID         string         `json:"id"`
		Addr       string         `json:"addr"`
		State      string         `json:"state"`
		Tags       []string       `json:"tags"`
		Metadata   map[string]any `json:"metadata"`
		AppVersion *string        `json:"app_version"`
		Observer   *bool          `json:"observer"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &nodes); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if len(nodes) != 3 {
		t.Fatalf("%d nodes, want 3:\n%s", len(nodes), r.stdout)
	}
	for i, n := range nodes {
		if n.ID != fmt.Sprintf("m%d", i) || n.Addr != mc.nodes[i].LocalNode().Addr || n.State != "alive" ||
			n.AppVersion == nil || n.Observer == nil || *n.Observer || len(n.Tags) == 0 ||
			n.Metadata["role"] != fmt.Sprintf("r%d", i) || n.Metadata["rank"] != float64(i) || n.Metadata["load"] != 0.25*float64(i) {
			t.Fatalf("node %d: %+v\n%s", i, n, r.stdout)
		}
	}
}

// writeSecret writes a secret file the way `echo` would, newline included.
func writeSecret(t *testing.T, name, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Against a cluster with a key, a token and an app version, the right
// files get the table; a wrong key, a wrong token or an incompatible
// version each exit 1 with one line.
func TestMembersSecrets(t *testing.T) {
	const key, token = "0123456789abcdef", "s3cret-token"
	mc := startMembersCluster(t, func(cfg *engine.Config) {
		cfg.EncryptionKey, cfg.BearerToken, cfg.AppVersion = key, token, "1.2.0"
	})
	good := []string{"-key-file", writeSecret(t, "key", key), "-token-file", writeSecret(t, "token", token), "-app-version", "1.2.3"}
	r := runMembers(t, append(good, mc.seed())...)
	if r.code != 0 || strings.Count(r.stdout, "alive") != 3 {
		t.Fatalf("with the right secrets: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"wrong key", []string{"-key-file", writeSecret(t, "key", "fedcba9876543210"), "-token-file", good[3], "-app-version", "1.2.3"}, "could decrypt"},
		{"no key", []string{"-token-file", good[3], "-app-version", "1.2.3"}, "encryption is not configured"},
		{"wrong token", []string{"-key-file", good[1], "-token-file", writeSecret(t, "token", "other"), "-app-version", "1.2.3"}, "token"},
		{"incompatible version", []string{"-key-file", good[1], "-token-file", good[3], "-app-version", "2.0.0"}, "app version"},
		{"key of a bad length", []string{"-key-file", writeSecret(t, "key", "short")}, "16, 24 or 32 bytes"},
		{"missing key file", []string{"-key-file", filepath.Join(t.TempDir(), "none")}, "-key-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireRefusal(t, runMembers(t, append(tc.args, "-timeout", "20s", mc.seed())...), tc.want)
		})
	}
}

// A peer that does not answer (a closed port) and one that never answers
// (a listener that accepts and stays silent) both exit 1 with one line.
func TestMembersUnreachablePeer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	requireRefusal(t, runMembers(t, closed), "could not join any of "+closed)
	silent := blackHole(t)
	requireRefusal(t, runMembers(t, "-timeout", "1s", silent), "no peer of "+silent+" answered within 1s")
}

// `members` is the subcommand only as the first argument not after "--":
// a script file named members runs with `scriptling-gossip -- members`.
func TestMembersScriptNamedMembers(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "members"), []byte("import sys\nprint('script ran with', sys.argv[1])\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runnerPath, "--", "members", "x")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "script ran with x\n" {
		t.Fatalf("-- members: %v: %q", err, out)
	}
	cmd = exec.Command(runnerPath, "members", "-h")
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("members -h: %v", err)
	}
	for _, flag := range []string{"-bind", "-advertise", "-key-file", "-token-file", "-app-version", "-json", "-timeout"} {
		if !strings.Contains(string(out), "  "+flag+" ") && !strings.Contains(string(out), "  "+flag+"\n") {
			t.Fatalf("members -h does not document %s:\n%s", flag, out)
		}
	}
}
