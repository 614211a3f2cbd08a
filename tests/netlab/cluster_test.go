package netlab

import (
	"fmt"
	"os"
	"time"
)

// statusInterval is how often each host prints its status, in seconds.
const statusInterval = 0.05

// fullScale reports whether the longer variants run (make lab sets it).
func fullScale() bool { return os.Getenv("NETLAB_SCALE") == "full" }

// nodeConfig is a host's configuration at the lab's timings, bound to its
// own address and joining seeds.
func nodeConfig(h *Host, seeds []*Host) NodeConfig {
	var addrs []string
	for _, s := range seeds {
		if s != h {
			addrs = append(addrs, s.Addr())
		}
	}
	return NodeConfig{Bind: h.Addr(), Seeds: addrs, Timings: labTimings, Interval: statusInterval}
}

// startCluster starts every host joining seed (the seed first, and once it
// reports, the others at once) and waits until every host sees every host
// alive; it returns how long that took after the seed was up.
func startCluster(l *Lab, hosts []*Host, configure func(*Host) NodeConfig, timeout time.Duration) time.Duration {
	l.t.Helper()
	hosts[0].StartNode(configure(hosts[0]))
	l.waitFor(timeout, hosts[0].Name+" to report", func() bool { _, ok := hosts[0].Last(); return ok })
	start := time.Now()
	for _, h := range hosts[1:] {
		h.StartNode(configure(h))
	}
	waitConverged(l, hosts, hosts, timeout)
	return time.Since(start)
}

// waitConverged waits until every observer sees every host alive.
func waitConverged(l *Lab, observers, hosts []*Host, timeout time.Duration) time.Duration {
	l.t.Helper()
	all := ids(hosts)
	what := fmt.Sprintf("%d hosts to see %v alive", len(observers), all)
	return l.waitFor(timeout, what, func() bool {
		return allSee(observers, func(s Status) bool { return s.SeesAllAlive(all) })
	})
}
