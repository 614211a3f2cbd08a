package netlab

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestChurn: for a minute at 10% packet loss (UDP and TCP, on every host's
// incoming traffic), random hosts are SIGKILLed and restarted with the same
// id and address. Every kill must be detected by every other host, every
// restart must be seen alive by all, and no host that is running may be
// declared dead by anyone.
func TestChurn(t *testing.T) {
	const (
		hosts       = 8
		lossPercent = 10
		bound       = 30 * time.Second // catches a missed detection, not a slow one
	)
	duration := time.Minute
	if fullScale() {
		duration = 3 * time.Minute
	}
	l := newLab(t, hosts)
	configure := func(h *Host) NodeConfig { return nodeConfig(h, l.Hosts) }
	startCluster(l, l.Hosts, configure, time.Minute)
	for _, h := range l.Hosts {
		h.SetLoss(lossPercent, 0, true)
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("victims drawn with seed %d", seed)
	down := map[string][]window{} // when each host was legitimately not alive
	var detect, revive []time.Duration
	end := time.Now().Add(duration)
	for time.Now().Before(end) {
		victim := l.Hosts[rng.IntN(hosts)]
		others := without(l.Hosts, victim)
		killedAt := time.Now()
		victim.Kill()
		d := l.waitFor(bound, victim.Name+" dead everywhere after SIGKILL", func() bool {
			return allSee(others, func(s Status) bool { return s.StateOf(victim.Name) == "dead" })
		})
		victim.StartNode(configure(victim))
		a := l.waitFor(bound, victim.Name+" alive everywhere after its restart", func() bool {
			return allSee(l.Hosts, func(s Status) bool { return s.SeesAllAlive(ids(l.Hosts)) })
		})
		down[victim.Name] = append(down[victim.Name], window{killedAt, time.Now()})
		detect, revive = append(detect, d), append(revive, a)
		t.Logf("%s killed: dead everywhere after %v, restarted and alive everywhere after %v",
			victim.Name, d.Round(time.Millisecond), a.Round(time.Millisecond))
	}

	var wrongly []Event
	for _, h := range l.Hosts {
		for _, e := range h.Events() {
			if e.Kind == "dead" && !within(down[e.Node], unixSeconds(e.T)) {
				wrongly = append(wrongly, e)
				t.Errorf("%s declared %s dead at %s while it was running",
					h.Name, e.Node, unixSeconds(e.T).Format(time.StampMilli))
			}
		}
	}
	t.Logf("SUMMARY churn: %d hosts, %v at %d%% loss: %d kills, all detected (worst %v), all restarts seen alive (worst %v), live hosts declared dead: %d",
		hosts, duration, lossPercent, len(detect), slices.Max(detect).Round(time.Millisecond),
		slices.Max(revive).Round(time.Millisecond), len(wrongly))
}

// window is an interval of time.
type window struct{ from, to time.Time }

// within reports whether at falls in one of ws.
func within(ws []window, at time.Time) bool {
	for _, w := range ws {
		if !at.Before(w.from) && !at.After(w.to) {
			return true
		}
	}
	return false
}
