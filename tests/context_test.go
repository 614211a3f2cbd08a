package tests

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/host"
)

// TestEvalDeadlineEndsBlockingCalls runs scripts that block in the library
// (wait(None), a request nobody answers, a join to a peer that accepts and
// never answers) under EvalWithContext with a short deadline or a cancel.
// Each must end soon after the context does, with Scriptling's own timeout
// or cancellation error, and leave the node for stop() to clean up. The
// bound is generous: it catches a call that ignores the context (which
// blocks for minutes or forever), not a slow machine.
func TestEvalDeadlineEndsBlockingCalls(t *testing.T) {
	peer := startQuietPeer(t)
	hole := blackHole(t)
	scenarios := []struct{ name, call string }{
		{"wait", "c.wait(None)"},
		{"wait-timeout", "c.wait(3600)"},
		{"request", fmt.Sprintf("c.join(%q)\nc.send_request(%q, 200, \"ping\", timeout=3600)", peer.LocalNode().Addr, peer.NodeID())},
		{"join", fmt.Sprintf("c.join(%q)", hole)},
		// The quiet peer never pumps: once its queue is full it stops
		// acknowledging, and a reliable send waits for room.
		{"send", fmt.Sprintf("c.join(%q)\ndef flood():\n    for i in range(100000):\n        c.send_to(%q, 202, i, reliable=True, timeout=3600)\nflood()", peer.LocalNode().Addr, peer.NodeID())},
	}
	for _, sc := range scenarios {
		for _, cancel := range []bool{false, true} {
			name := sc.name + "/deadline"
			if cancel {
				name = sc.name + "/cancel"
			}
			t.Run(name, func(t *testing.T) {
				var out syncBuffer
				p := host.New(host.Options{Stdout: &out})
				const after = time.Second
				var ctx context.Context
				var stop context.CancelFunc
				if cancel {
					ctx, stop = context.WithCancel(context.Background())
					time.AfterFunc(after, stop)
				} else {
					ctx, stop = context.WithTimeout(context.Background(), after)
				}
				defer stop()
				// The marker shows the call that blocked is the one the
				// scenario names, not an earlier one.
				lines := strings.Split(sc.call, "\n")
				last := len(lines) - 1
				lines[last] = "print(\"blocking\")\n" + lines[last]
				src := "import scriptling.net.gossip as gossip\nc = gossip.create(bind_addr=\"127.0.0.1:0\")\nc.start()\n" + strings.Join(lines, "\n") + "\n"
				start := time.Now()
				done := make(chan error, 1)
				go func() {
					_, err := p.EvalWithContext(ctx, src)
					done <- err
				}()
				var err error
				select {
				case err = <-done:
				case <-time.After(after + 15*time.Second):
					t.Fatalf("%s did not end within 15 s of the context", sc.call)
				}
				t.Logf("%s ended %v after the context", sc.name, time.Since(start)-after)
				if !strings.Contains(out.String(), "blocking") {
					t.Fatalf("the context ended before the call under test (output %q, error %v)", out.String(), err)
				}
				want := "timeout"
				if cancel {
					want = "cancel"
				}
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), want) {
					t.Fatalf("script error = %v, want Scriptling's %s error", err, want)
				}
				// The node is left running; the script's own stop() (in a
				// fresh evaluation of the same interpreter) cleans it up.
				if _, err := p.Eval("addr = c.local_node()[\"addr\"]\nc.stop()\n"); err != nil {
					t.Fatalf("stop() after the ended call: %v", err)
				}
			})
		}
	}
}

// TestRuntimeResetAfterDeadline checks that a node whose script was ended
// by its context is cleaned up by the runtime reset as well: its port can
// be bound again.
func TestRuntimeResetAfterDeadline(t *testing.T) {
	p := host.New(host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.EvalWithContext(ctx, "import scriptling.net.gossip as gossip\nc = gossip.create(bind_addr=\"127.0.0.1:0\")\nc.start()\nprint(c.local_node()[\"addr\"])\nc.wait(None)\n")
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "timeout") {
		t.Fatalf("script error = %v, want a timeout", err)
	}
	v, err := p.Eval("c.local_node()[\"addr\"]")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.Trim(v.Inspect(), "\"'")
	host.Shutdown()
	waitFor(t, 10*time.Second, "port of the reset node free", func() bool {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		l.Close()
		return true
	})
}

// startQuietPeer starts a node with handlers that never run: no one pumps
// its queue, so requests to it are never answered and, once its queue is
// full, it stops taking reliable messages.
func startQuietPeer(t *testing.T) *engine.Cluster {
	t.Helper()
	c, err := engine.New(engine.Config{BindAddr: "127.0.0.1:0", NodeID: "quiet-peer"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	if err := c.HandleWithReply(200, func(engine.Message) (any, error) { return "pong", nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Handle(202, func(engine.Message) {}); err != nil {
		t.Fatal(err)
	}
	return c
}

// blackHole listens on loopback and accepts connections without ever
// answering, as a hung peer would.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
