package netlab

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// connFloodConns is how many connections the attacker keeps trying to hold.
const connFloodConns = 1000

// connFlood keeps connFloodConns TCP connections to target open until
// killed: most send nothing, some send the start of a stream hello (the
// magic and a version byte) or a lone memberlist message-type byte and
// stop. A connection the target closes is dialled again after a short
// pause, so the pressure lasts.
func connFlood(target string) {
	var wg sync.WaitGroup
	for i := 0; i < connFloodConns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var first []byte
			switch i % 10 {
			case 7:
				first = []byte{0xF7, 'S', 'T', 'R', 2} // a stream hello cut short
			case 8:
				first = []byte{1} // memberlist's push/pull, then nothing
			}
			buf := make([]byte, 64)
			for {
				c, err := net.DialTimeout("tcp", target, 5*time.Second)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if first != nil {
					_, _ = c.Write(first)
				}
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				_ = c.Close()
				time.Sleep(20 * time.Millisecond)
			}
		}(i)
	}
	wg.Wait()
}

// StartConnFlood makes this host (the stranger) hold connections to target.
func (h *Host) StartConnFlood(target string) {
	h.lab.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		h.lab.t.Fatal(err)
	}
	h.start("env", roleEnv+"="+roleConnFlood, exe, target)
}

// messengerStatus is one line of messenger.py.
type messengerStatus struct {
	Node          string           `json:"node"`
	ReliableSent  map[string]int   `json:"reliable_sent"`
	ReliableGot   map[string]int   `json:"reliable_got"`
	UnreliableGot map[string]int   `json:"unreliable_got"`
	Disorder      int              `json:"disorder"`
	SendErrors    int              `json:"send_errors"`
	Stats         map[string]int64 `json:"stats"`
}

// lastMessenger is the newest messenger.py line the host printed.
func (h *Host) lastMessenger() (messengerStatus, bool) {
	lines := h.obs.Other()
	for i := len(lines) - 1; i >= 0; i-- {
		var s messengerStatus
		if json.Unmarshal([]byte(lines[i]), &s) == nil && s.Node != "" {
			return s, true
		}
	}
	return messengerStatus{}, false
}

// procUsage reads the resident memory (KiB) and thread count of the host's
// process from /proc.
func (h *Host) procUsage() (rssKiB, threads int, err error) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return 0, 0, fmt.Errorf("%s: no process", h.Name)
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rssKiB, _ = strconv.Atoi(fields[1])
		case "Threads:":
			threads, _ = strconv.Atoi(fields[1])
		}
	}
	return rssKiB, threads, nil
}

// TestConnFlood: a stranger in its own namespace holds a thousand idle or
// half-handshaken TCP connections to one member while three members
// exchange reliable and unreliable messages. The member refuses what is
// over its per-source cap (counted), its memory and threads stay bounded,
// messages keep flowing both ways, every reliable message arrives exactly
// once and in order, and nothing crashes.
func TestConnFlood(t *testing.T) {
	attack := 12 * time.Second
	l := newLab(t, 3)
	target := l.Hosts[0]
	for i, h := range l.Hosts {
		seeds := ""
		if i > 0 {
			seeds = target.Addr()
		}
		h.start(runnerPath, filepath.Join(scriptsDir, "messenger.py"), h.Addr(), h.Name, seeds)
	}
	ids := []string{l.Hosts[0].Name, l.Hosts[1].Name, l.Hosts[2].Name}
	flowing := func(h *Host) bool {
		s, ok := h.lastMessenger()
		if !ok {
			return false
		}
		for _, id := range ids {
			if id != h.Name && s.ReliableGot[id] == 0 {
				return false
			}
		}
		return true
	}
	l.waitFor(60*time.Second, "messages to flow between all three", func() bool {
		return flowing(l.Hosts[0]) && flowing(l.Hosts[1]) && flowing(l.Hosts[2])
	})
	rssBefore, threadsBefore, err := target.procUsage()
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]messengerStatus{}
	for _, h := range l.Hosts {
		before[h.Name], _ = h.lastMessenger()
	}

	stranger := l.addStranger()
	stranger.StartConnFlood(target.Addr())
	start := time.Now()
	peakRSS, peakThreads := rssBefore, threadsBefore
	for time.Since(start) < attack {
		time.Sleep(500 * time.Millisecond) // sampling interval, not a wait for a condition
		rss, threads, err := target.procUsage()
		if err != nil {
			t.Fatalf("the target's process is gone: %v", err)
		}
		peakRSS, peakThreads = max(peakRSS, rss), max(peakThreads, threads)
	}
	during := map[string]messengerStatus{}
	for _, h := range l.Hosts {
		during[h.Name], _ = h.lastMessenger()
	}
	if ended, err := stranger.Exited(); ended {
		t.Fatalf("the attacker stopped by itself (%v)", err)
	}
	stranger.Kill()

	// Messages flowed both ways across the target during the attack.
	for _, h := range l.Hosts {
		for _, from := range ids {
			if from == h.Name || (h != target && from != target.Name) {
				continue
			}
			rel := during[h.Name].ReliableGot[from] - before[h.Name].ReliableGot[from]
			unrel := during[h.Name].UnreliableGot[from] - before[h.Name].UnreliableGot[from]
			t.Logf("during the attack %s received from %s: %d reliable, %d unreliable", h.Name, from, rel, unrel)
			if rel < 20 || unrel < 10 {
				t.Errorf("%s got only %d reliable and %d unreliable messages from %s in %v of attack", h.Name, rel, unrel, from, attack)
			}
		}
	}
	refused := during[target.Name].Stats["connections_refused"]
	if refused < connFloodConns/2 {
		t.Errorf("the target refused only %d connections", refused)
	}
	if grew := peakRSS - rssBefore; grew > 64<<10 {
		t.Errorf("the target's memory grew by %d KiB under the attack (from %d KiB)", grew, rssBefore)
	}
	if peakThreads > threadsBefore+20 {
		t.Errorf("the target's threads grew from %d to %d", threadsBefore, peakThreads)
	}

	// Once the attack is over every reliable message sent so far arrives,
	// exactly once and in order.
	snapshot := map[string]messengerStatus{}
	for _, h := range l.Hosts {
		snapshot[h.Name], _ = h.lastMessenger()
	}
	l.waitFor(30*time.Second, "every reliable message sent before the end to arrive", func() bool {
		for _, h := range l.Hosts {
			s, _ := h.lastMessenger()
			for _, from := range ids {
				if from != h.Name && s.ReliableGot[from] < snapshot[from].ReliableSent[h.Name] {
					return false
				}
			}
		}
		return true
	})
	for _, h := range l.Hosts {
		s, _ := h.lastMessenger()
		if s.Disorder != 0 {
			t.Errorf("%s saw %d reliable messages out of order or repeated", h.Name, s.Disorder)
		}
		if ended, err := h.Exited(); ended {
			t.Errorf("%s ended: %v", h.Name, err)
		}
	}
	t.Logf("SUMMARY conn flood: %d connections held against %s for %v: %d refused, RSS %d -> peak %d KiB, threads %d -> peak %d",
		connFloodConns, target.Addr(), attack, refused, rssBefore, peakRSS, threadsBefore, peakThreads)
}
