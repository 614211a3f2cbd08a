package testnet

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fatalTB records Fatalf and ends the calling goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a fatalTB on its own goroutine and returns the
// failure message, "" when fn returned normally.
func run(fn func(tb testing.TB)) string {
	f := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestWaitForReturnsOnceCondHolds(t *testing.T) {
	calls := 0
	msg := run(func(tb testing.TB) {
		WaitFor(tb, 10*time.Second, "three calls", func() bool { calls++; return calls == 3 })
	})
	if msg != "" || calls != 3 {
		t.Fatalf("failed %q after %d calls, want success after 3", msg, calls)
	}
}

func TestWaitForFailsAfterTimeout(t *testing.T) {
	start := time.Now()
	msg := run(func(tb testing.TB) {
		WaitFor(tb, 50*time.Millisecond, "never", func() bool { return false })
	})
	if !strings.Contains(msg, "waiting for never") {
		t.Fatalf("failure %q does not name what was awaited", msg)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("failed before the timeout")
	}
}

type dispatcher struct{ n int }

func (d *dispatcher) Dispatch() int { d.n++; return 0 }

func TestPumpDispatchesBeforeEachCheck(t *testing.T) {
	d := &dispatcher{}
	msg := run(func(tb testing.TB) {
		Pump(tb, d, 10*time.Second, "two dispatches", func() bool { return d.n == 2 })
	})
	if msg != "" || d.n != 2 {
		t.Fatalf("failed %q after %d dispatches, want success after 2", msg, d.n)
	}
}

// fakeNet is a membership in which a join makes both sides and everyone
// the joined node knows see each other at once.
type fakeNet struct {
	mu    sync.Mutex
	nodes map[string]*fakeNode
	joins []string // "joiner->addr"
}

type fakeNode struct {
	net   *fakeNet
	addr  string
	peers map[string]bool // by address, itself included
	fail  error
}

func (n *fakeNode) Join(_ context.Context, addrs []string) (int, error) {
	n.net.mu.Lock()
	defer n.net.mu.Unlock()
	if n.fail != nil {
		return 0, n.fail
	}
	for _, a := range addrs {
		n.net.joins = append(n.net.joins, n.addr+"->"+a)
		seed := n.net.nodes[a]
		for p := range seed.peers {
			n.peers[p] = true
			n.net.nodes[p].peers[n.addr] = true
		}
	}
	return len(addrs), nil
}

func (n *fakeNode) NumAlive() int {
	n.net.mu.Lock()
	defer n.net.mu.Unlock()
	return len(n.peers)
}

func (f *fakeNet) start(fail map[int]error) func(i int) *fakeNode {
	return func(i int) *fakeNode {
		f.mu.Lock()
		defer f.mu.Unlock()
		addr := fmt.Sprintf("127.0.0.1:%d", 7000+i)
		n := &fakeNode{net: f, addr: addr, peers: map[string]bool{addr: true}, fail: fail[i]}
		f.nodes[addr] = n
		return n
	}
}

func addrOf(n *fakeNode) string { return n.addr }

func TestStartClusterJoinsEveryNodeToTheFirst(t *testing.T) {
	f := &fakeNet{nodes: map[string]*fakeNode{}}
	var nodes []*fakeNode
	msg := run(func(tb testing.TB) { nodes = StartCluster(tb, 3, f.start(nil), addrOf) })
	if msg != "" {
		t.Fatal(msg)
	}
	if len(nodes) != 3 || nodes[2].addr != "127.0.0.1:7002" {
		t.Fatalf("nodes not returned in start order: %+v", nodes)
	}
	want := "127.0.0.1:7001->127.0.0.1:7000 127.0.0.1:7002->127.0.0.1:7000"
	if got := strings.Join(f.joins, " "); got != want {
		t.Fatalf("joins %q, want %q", got, want)
	}
	for _, n := range nodes {
		if n.NumAlive() != 3 {
			t.Fatalf("%s sees %d alive after StartCluster returned", n.addr, n.NumAlive())
		}
	}
}

func TestStartClusterFailsOnJoinError(t *testing.T) {
	f := &fakeNet{nodes: map[string]*fakeNode{}}
	msg := run(func(tb testing.TB) {
		StartCluster(tb, 3, f.start(map[int]error{2: errors.New("refused")}), addrOf)
	})
	if msg != "join n2: refused" {
		t.Fatalf("failure %q, want %q", msg, "join n2: refused")
	}
}

func TestPollForPollsAtTheInterval(t *testing.T) {
	var calls int
	start := time.Now()
	msg := run(func(tb testing.TB) {
		PollFor(tb, 20*time.Millisecond, 10*time.Second, "three calls", func() bool { calls++; return calls == 3 })
	})
	if msg != "" || calls != 3 {
		t.Fatalf("failed %q after %d calls, want success after 3", msg, calls)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("three calls took %v, want two sleeps of 20 ms at least", el)
	}
}
