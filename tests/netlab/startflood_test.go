package netlab

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartFlood: a stranger in its own namespace floods a node's address
// with unauthenticated memberlist datagrams (user messages in envelopes from
// made-up senders, and garbage) while that node starts, joins, serves and
// stops in a loop on the same address. Nothing a stranger sends may crash it.
func TestStartFlood(t *testing.T) {
	cycles := 300
	if fullScale() {
		cycles = 2000
	}
	l := newLab(t, 2)
	peer, target := l.Hosts[0], l.Hosts[1]
	peer.StartNode(nodeConfig(peer, nil))
	l.waitFor(30*time.Second, "the peer to report", func() bool { _, ok := peer.Last(); return ok })
	stranger := l.addStranger()
	stranger.StartFlood(target.Addr())

	target.start(runnerPath, filepath.Join(scriptsDir, "restart_loop.py"), target.Addr(), fmt.Sprint(cycles), peer.Addr())
	err := target.Wait(time.Duration(cycles) * time.Second)
	lines := target.obs.Other()
	done := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "cycle ") {
			done++
		}
	}
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "done" {
		t.Errorf("the restarting node died after %d of %d cycles (%v); its log:\n%s", done, cycles, err, tail(target.logPath(), 40))
	}
	if ended, err := stranger.Exited(); ended {
		t.Errorf("the flood stopped by itself (%v): the node was not under fire", err)
	}
	t.Logf("SUMMARY start flood: %d start/join/stop cycles on %s under a flood of forged datagrams: %d completed, exit %v",
		cycles, target.Addr(), done, err)
}
