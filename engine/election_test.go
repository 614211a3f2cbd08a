package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine/faultnet"
)

// Under a partition at most one side has a leader, and after the heal
// exactly one node leads again.
func TestElectionPartition(t *testing.T) {
	net := faultnet.NewNetwork()
	t.Cleanup(func() { _ = net.Close() })
	var addrs []string
	nodes := startCluster(t, 3, func(i int, cfg *Config) {
		tr, err := net.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Transport = tr
		cfg.BindAddr = tr.Addr()
		addrs = append(addrs, tr.Addr())
	})
	els := make([]*LeaderElection, len(nodes))
	for i, c := range nodes {
		e, err := c.CreateLeaderElection(50*time.Millisecond, 400*time.Millisecond, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Stop)
		els[i] = e
	}
	leaders := func() []string {
		var out []string
		for i, e := range els {
			if e.IsLeader() {
				out = append(out, fmt.Sprint("n", i))
			}
		}
		return out
	}
	// check samples leadership and fails on two leaders at once.
	check := func(what string, want func([]string) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			l := leaders()
			if len(l) > 1 {
				t.Fatalf("%s: two leaders at once: %v", what, l)
			}
			if want(l) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; leaders %v", what, l)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	check("n0 elected", func(l []string) bool { return len(l) == 1 && l[0] == "n0" })
	net.Partition(addrs[:1], addrs[1:])
	check("n1 leads the majority side", func(l []string) bool { return len(l) == 1 && l[0] == "n1" })
	if els[0].IsLeader() || els[0].HasLeader() {
		t.Fatal("the minority side still has a leader")
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		check("stable partition", func(l []string) bool { return true })
		time.Sleep(10 * time.Millisecond)
	}
	net.Heal()
	check("n0 leads after the heal", func(l []string) bool { return len(l) == 1 && l[0] == "n0" })
}
