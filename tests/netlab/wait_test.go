package netlab

import (
	"testing"
	"time"
)

// pollInterval is how often conditions on the hosts' statuses are checked
// (the hosts print every 50 ms).
const pollInterval = 25 * time.Millisecond

// waitFor polls cond until it holds and returns how long that took; past
// timeout it fails the test naming what it waited for.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
	return time.Since(start)
}

// waitFor is waitFor that also fails as soon as a host's process ends on its
// own: a crashed node never satisfies the condition, and its log says why.
func (l *Lab) waitFor(timeout time.Duration, what string, cond func() bool) time.Duration {
	l.t.Helper()
	return waitFor(l.t, timeout, what, func() bool {
		for _, h := range l.all {
			if ended, err := h.Exited(); ended {
				l.t.Fatalf("%s's process ended (%v) while waiting for %s", h.Name, err, what)
			}
		}
		return cond()
	})
}

// allSee reports whether every observer's latest status satisfies view.
func allSee(observers []*Host, view func(Status) bool) bool {
	for _, h := range observers {
		s, ok := h.Last()
		if !ok || !view(s) {
			return false
		}
	}
	return true
}

// ids lists the hosts' node ids.
func ids(hosts []*Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// without returns hosts minus x.
func without(hosts []*Host, x *Host) []*Host {
	var out []*Host
	for _, h := range hosts {
		if h != x {
			out = append(out, h)
		}
	}
	return out
}
