package netlab

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestPartition: six hosts split 3/3 for longer than the election's forget
// window, then healed. Membership and metadata (changed on both sides during
// the split) heal, and at no sampled instant do two hosts believe they lead
// in the same term.
func TestPartition(t *testing.T) {
	const hosts = 6
	l, before, term := electedLab(t, hosts)
	t.Logf("before the split: %s leads in term %s", before.Name, termText(term))

	a, b := l.Hosts[:hosts/2], l.Hosts[hosts/2:]
	split := labElection.forgetWindow() + 15*time.Second
	l.Partition(a, b)
	splitAt := time.Now()
	t.Logf("split %v | %v for %v (forget window %v)", ids(a), ids(b), split, labElection.forgetWindow())
	seesSideOnly := func(side, other []*Host) bool {
		return allSee(side, func(s Status) bool {
			for _, h := range other {
				if s.StateOf(h.Name) == "alive" {
					return false
				}
			}
			return s.SeesAllAlive(ids(side))
		})
	}
	took := l.waitFor(time.Minute, "each side to see only itself alive", func() bool {
		return seesSideOnly(a, b) && seesSideOnly(b, a)
	})
	t.Logf("each side saw only itself alive after %v", took.Round(time.Millisecond))
	for _, h := range l.Hosts {
		h.SetMeta(map[string]string{"phase": "split-" + h.Name})
	}
	// Hold the split; the hosts keep reporting, and every status counts.
	l.waitFor(split+time.Minute, "the split to outlast the forget window", func() bool {
		return time.Since(splitAt) >= split
	})

	l.Heal()
	healed := l.waitFor(2*time.Minute, "membership to heal", func() bool {
		return allSee(l.Hosts, func(s Status) bool { return s.SeesAllAlive(ids(l.Hosts)) })
	})
	metaHealed := l.waitFor(time.Minute, "metadata changed during the split to reach every host", func() bool {
		return allSee(l.Hosts, func(s Status) bool {
			for _, h := range l.Hosts {
				if s.Members[h.Name].Meta["phase"] != "split-"+h.Name {
					return false
				}
			}
			return true
		})
	})
	l.waitFor(time.Minute, "one leader after the heal", func() bool { _, _, ok := agreedLeader(l.Hosts); return ok })
	after, afterTerm, _ := agreedLeader(l.Hosts)

	doubles, most := doubleLeaders(l.Hosts)
	if len(doubles) > 0 {
		t.Errorf("%d sampled instants at which two hosts believed they led in the same term:%s",
			len(doubles), describeDoubles(doubles))
	}
	t.Logf("SUMMARY partition: %d hosts split 3/3 for %v: membership healed %v and metadata %v after the heal; leader %s (term %s) before, %s (term %s) after; most hosts leading at once %d; same-term double leaderships %d",
		hosts, split, healed.Round(time.Millisecond), (healed + metaHealed).Round(time.Millisecond),
		before.Name, termText(term), after.Name, termText(afterTerm), most, len(doubles))
}

// SetMeta has the host's node set metadata, through its control file.
func (h *Host) SetMeta(meta map[string]string) {
	h.lab.t.Helper()
	h.writeControl(map[string]any{"meta": meta})
}

// writeControl replaces the host's control file with v as JSON, written
// whole and renamed, so the script never reads half a file.
func (h *Host) writeControl(v any) {
	h.lab.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		h.lab.t.Fatal(err)
	}
	tmp := h.controlPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		h.lab.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.controlPath()); err != nil {
		h.lab.t.Fatal(err)
	}
}
