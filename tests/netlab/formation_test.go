package netlab

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFormation: 16 hosts join through one seed at once while a CPU burner
// keeps both cores busy, ten times. A round in which a lost gossip message
// leaves some host unknown somewhere waits for the next push/pull, so every
// round must converge well inside one push/pull period (half of it): that
// bound catches the stall, it is not a speed test. The worst round is the
// figure reported (target: under 3 s).
func TestFormation(t *testing.T) {
	const hosts = 16
	rounds := 10
	if fullScale() {
		rounds = 20
	}
	pushPull := 20 * time.Second
	bound := pushPull / 2

	l := newLab(t, hosts)
	startBurner(t)
	timings := labTimings
	timings.PushPull = pushPull.String()
	seed := l.Hosts[0]
	configure := func(h *Host) NodeConfig {
		cfg := nodeConfig(h, []*Host{seed})
		cfg.Timings = timings
		return cfg
	}

	var times, afterJoin []time.Duration
	for r := 1; r <= rounds; r++ {
		seed.StartNode(configure(seed))
		l.waitFor(30*time.Second, "the seed to report", func() bool { _, ok := seed.Last(); return ok })
		spawn := time.Now()
		for _, h := range l.Hosts[1:] {
			h.StartNode(configure(h))
		}
		// Wait past the bound, so that a stalled round is measured too.
		all := ids(l.Hosts)
		converged := waitUntil(pushPull+5*time.Second, func() bool {
			return allSee(l.Hosts, func(s Status) bool { return s.SeesAllAlive(all) })
		})
		convergedAt, lastJoin := formationTimes(l.Hosts, all)
		took := convergedAt.Sub(spawn)
		if !converged {
			took = time.Since(spawn)
			t.Errorf("round %d: not converged after %v", r, took.Round(time.Millisecond))
		}
		times = append(times, took)
		afterJoin = append(afterJoin, took-lastJoin.Sub(spawn))
		t.Logf("round %2d: all %d hosts see all alive %v after the joiners were started (%v after the last joined)",
			r, hosts, took.Round(time.Millisecond), afterJoin[len(afterJoin)-1].Round(time.Millisecond))
		for _, h := range l.Hosts {
			h.Kill()
		}
	}

	worst := slices.Max(times)
	for r, d := range times {
		if d > bound {
			t.Errorf("round %d took %v: past half the push/pull period (%v), the stall class", r+1, d.Round(time.Millisecond), bound)
		}
	}
	t.Logf("SUMMARY formation: %d hosts, %d rounds, CPU burner on, push/pull %v: worst %v, median %v (after last join: worst %v); rounds %s",
		hosts, rounds, pushPull, worst.Round(time.Millisecond), median(times).Round(time.Millisecond),
		slices.Max(afterJoin).Round(time.Millisecond), durations(times))
}

// formationTimes returns, for the hosts' current runs, the instant by which
// every host had first seen all ids alive and the instant the last host
// joined.
func formationTimes(hosts []*Host, all []string) (converged, lastJoin time.Time) {
	for _, h := range hosts {
		h.mu.Lock()
		run := h.runs
		h.mu.Unlock()
		var seen, joined time.Time
		for _, s := range h.obs.All() {
			if s.Run != run {
				continue
			}
			if joined.IsZero() && s.Joined {
				joined = s.At()
			}
			if s.SeesAllAlive(all) {
				seen = s.At()
				break
			}
		}
		if seen.After(converged) {
			converged = seen
		}
		if joined.After(lastJoin) {
			lastJoin = joined
		}
	}
	return converged, lastJoin
}

// waitUntil polls cond until it holds (true) or timeout passes (false).
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprint(d.Round(10 * time.Millisecond))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
