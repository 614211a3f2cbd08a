package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gettingStarted is the page whose scripts TestGettingStarted runs.
const gettingStarted = "../docs/getting-started.md"

// pythonBlocks returns the ```python blocks of a markdown page, in order.
func pythonBlocks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```python\n(.*?)```")
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// TestGettingStarted runs every script of the getting-started page with the
// runner, as the page tells the reader to: the two loopback scripts alone,
// and the three-host script as three processes on 127.0.0.1 with a key and
// token file, interrupted with SIGINT (Ctrl-C) once every node has greeted
// the other two. A script added to the page without a case here fails.
func TestGettingStarted(t *testing.T) {
	blocks := pythonBlocks(t, gettingStarted)
	if len(blocks) != 3 {
		t.Fatalf("%s has %d python scripts; this test runs 3 (add a case for a new one)", gettingStarted, len(blocks))
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("loopback", func(t *testing.T) {
		out := runRunner(t, 2*time.Minute, write("loopback.py", blocks[0]))
		for _, w := range []string{"a got {hello: world} from b\n", "\na 127.0.0.1:", "\nb 127.0.0.1:"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
		if strings.Count(out, " alive\n") != 2 {
			t.Errorf("want both nodes alive:\n%s", out)
		}
	})
	t.Run("roles", func(t *testing.T) {
		out := runRunner(t, 2*time.Minute, write("roles.py", blocks[1]))
		for _, w := range []string{"web sees worker-1: alive\n", "worker got job 1\n", "worker has 4 slots free\n", "capacity as web sees it: 4\n"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	})
	t.Run("three hosts", func(t *testing.T) {
		write("node.py", blocks[2])
		write("cluster.key", "0123456789abcdef0123456789abcdef\n")
		write("cluster.token", "a-token-from-a-file\n")
		threeHosts(t, dir)
	})
}

// hostProcess is one runner process of the three-host script.
type hostProcess struct {
	name string
	cmd  *exec.Cmd
	eof  chan struct{} // closed once its stdout is read to the end
}

// startNode runs node.py NAME 127.0.0.1:0 [PEER] in dir; its stdout lines go
// to lines, which is buffered well beyond what the script prints so that
// the reader never blocks.
func startNode(t *testing.T, dir string, lines chan<- string, name string, args ...string) *hostProcess {
	t.Helper()
	cmd := exec.Command(runnerPath, append([]string{"node.py", name, "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &hostProcess{name: name, cmd: cmd, eof: make(chan struct{})}
	go func() {
		defer close(n.eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-n.eof
			_ = cmd.Wait()
		}
	})
	return n
}

func threeHosts(t *testing.T, dir string) {
	deadline := time.After(90 * time.Second)
	lines := make(chan string, 1000)
	n1 := startNode(t, dir, lines, "n1")
	var addr string
	select {
	case line := <-lines:
		addr, _ = strings.CutPrefix(line, "n1 listening on ")
		if addr == line {
			t.Fatalf("n1 printed %q first, want its address", line)
		}
	case <-deadline:
		t.Fatal("n1 printed no address")
	}
	nodes := []*hostProcess{n1, startNode(t, dir, lines, "n2", addr), startNode(t, dir, lines, "n3", addr)}

	// Every node must receive the hello of both others.
	want := map[string]bool{}
	for _, to := range nodes {
		for _, from := range nodes {
			if to != from {
				want[to.name+" got 'hello from "+from.name+"' from "+from.name] = true
			}
		}
	}
	var seen []string
	for len(want) > 0 {
		select {
		case line := <-lines:
			seen = append(seen, line)
			delete(want, line)
		case <-deadline:
			t.Fatalf("hellos missing after 90 s: %v\noutput:\n%s", want, strings.Join(seen, "\n"))
		}
	}
	// Ctrl-C each node, as the page says; the runner stops it and exits 0.
	for _, n := range nodes {
		if err := n.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		select {
		case <-n.eof:
			if err := n.cmd.Wait(); err != nil {
				t.Errorf("%s: runner exit after SIGINT: %v", n.name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not exit within 30 s of SIGINT", n.name)
		}
	}
}
