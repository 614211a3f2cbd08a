package faultnet

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// startCluster starts one memberlist node per transport with fast timers
// and shuts them all down at the end of the test.
func startCluster(t *testing.T, trs []*Transport) []*memberlist.Memberlist {
	t.Helper()
	return startClusterWith(t, trs, func(*memberlist.Config) {})
}

// startClusterWith is startCluster with tune applied to each node's
// configuration before it starts.
func startClusterWith(t *testing.T, trs []*Transport, tune func(*memberlist.Config)) []*memberlist.Memberlist {
	t.Helper()
	mls := make([]*memberlist.Memberlist, len(trs))
	for i, tr := range trs {
		cfg := memberlist.DefaultLANConfig()
		cfg.Name = fmt.Sprintf("node-%c", 'a'+i)
		cfg.Transport = tr
		cfg.ProbeInterval = 100 * time.Millisecond
		cfg.ProbeTimeout = 50 * time.Millisecond
		cfg.GossipInterval = 20 * time.Millisecond
		cfg.SuspicionMult = 3
		cfg.PushPullInterval = time.Second
		cfg.TCPTimeout = time.Second
		cfg.LogOutput = io.Discard
		tune(cfg)
		ml, err := memberlist.Create(cfg)
		if err != nil {
			t.Fatalf("memberlist.Create(%s): %v", cfg.Name, err)
		}
		mls[i] = ml
		t.Cleanup(func() { _ = ml.Shutdown() })
	}
	return mls
}

// aliveNames returns the names ml currently believes alive.
func aliveNames(ml *memberlist.Memberlist) map[string]bool {
	out := map[string]bool{}
	for _, m := range ml.Members() {
		if m.State == memberlist.StateAlive {
			out[m.Name] = true
		}
	}
	return out
}

// sees reports whether every node of observers believes exactly the nodes
// named in want alive, and every node named in dead dead.
func sees(observers []*memberlist.Memberlist, want []string, dead []string) bool {
	for _, ml := range observers {
		alive := aliveNames(ml)
		if len(alive) != len(want) {
			return false
		}
		for _, name := range want {
			if !alive[name] {
				return false
			}
		}
		states := map[string]memberlist.NodeStateType{}
		for _, m := range ml.Members() {
			states[m.Name] = m.State
		}
		for _, name := range dead {
			if st, ok := states[name]; ok && st != memberlist.StateDead {
				return false
			}
		}
	}
	return true
}

func names(mls []*memberlist.Memberlist) []string {
	out := make([]string, len(mls))
	for i, ml := range mls {
		out[i] = ml.LocalNode().Name
	}
	return out
}

func addrs(trs []*Transport) []string {
	out := make([]string, len(trs))
	for i, tr := range trs {
		out[i] = tr.Addr()
	}
	return out
}

// newCluster starts count joined memberlist nodes on n and waits until
// every node sees all of them alive.
func newCluster(t *testing.T, n *Network, count int) ([]*Transport, []*memberlist.Memberlist) {
	t.Helper()
	trs := make([]*Transport, count)
	for i := range trs {
		tr, err := n.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
	}
	mls := startCluster(t, trs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(describe(mls))
		}
	})
	for _, ml := range mls[1:] {
		if _, err := ml.Join([]string{trs[0].Addr()}); err != nil {
			t.Fatalf("join: %v", err)
		}
	}
	all := names(mls)
	waitFor(t, 10*time.Second, func() bool { return sees(mls, all, nil) })
	return trs, mls
}

func TestMemberlistPartitionAndHeal(t *testing.T) {
	n := newTestNetwork(t)
	trs, mls := newCluster(t, n, 4)
	all := names(mls)

	// Partition {a,b} | {c,d}: each side declares the other dead.
	left, right := mls[:2], mls[2:]
	n.Partition(addrs(trs[:2]), addrs(trs[2:]))
	waitFor(t, 15*time.Second, func() bool {
		return sees(left, names(left), names(right)) && sees(right, names(right), names(left))
	})
	for _, ml := range mls {
		if got := ml.NumMembers(); got != 2 {
			t.Fatalf("%s: NumMembers = %d during the partition, want 2", ml.LocalNode().Name, got)
		}
	}
	if s := n.Stats(); s.DroppedPartition == 0 {
		t.Fatalf("partition dropped nothing: %+v", s)
	}

	// Heal alone is not enough once the dead broadcasts have drained (see
	// the package documentation); one Join across the former cut is.
	n.Heal()
	if _, err := left[0].Join(addrs(trs[2:])); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	waitFor(t, 15*time.Second, func() bool { return sees(mls, all, nil) })
}

func TestMemberlistDetectsStoppedNode(t *testing.T) {
	n := newTestNetwork(t)
	_, mls := newCluster(t, n, 4)

	// A stopped peer must not wedge the others (the reason this package
	// exists): they keep probing it, fail promptly and declare it dead.
	if err := mls[3].Shutdown(); err != nil {
		t.Fatal(err)
	}
	rest := mls[:3]
	waitFor(t, 15*time.Second, func() bool { return sees(rest, names(rest), names(mls[3:])) })
}

func TestMemberlistConvergesUnderLossyNetwork(t *testing.T) {
	n := newTestNetwork(t)
	n.SetLoss(0.1)
	n.SetDuplicate(0.05)
	n.SetDelay(2*time.Millisecond, 5*time.Millisecond)
	_, mls := newCluster(t, n, 4)
	// Keep running until the faults have been exercised; the cluster must
	// then still (or again) agree that everyone is alive.
	waitFor(t, 10*time.Second, func() bool {
		s := n.Stats()
		return s.DroppedLoss > 20 && s.PacketsDuplicated > 10
	})
	all := names(mls)
	waitFor(t, 10*time.Second, func() bool { return sees(mls, all, nil) })
}

// describe renders every node's view of the cluster for failure messages.
func describe(mls []*memberlist.Memberlist) string {
	var b strings.Builder
	for _, ml := range mls {
		fmt.Fprintf(&b, "\n%s sees:", ml.LocalNode().Name)
		for _, m := range ml.Members() {
			fmt.Fprintf(&b, " %s=%v", m.Name, m.State)
		}
	}
	return b.String()
}

func TestMemberlistConvergesOverFaultyStreams(t *testing.T) {
	n := newTestNetwork(t)
	// Push/pull, joins and reliable messages all go over streams; with
	// encryption on, memberlist's AES-GCM rejects corrupted and misaligned
	// streams instead of decoding garbage.
	n.SetStreamFaults(StreamFaults{
		Drop: 0.15, Duplicate: 0.15, Corrupt: 0.15, Cut: 0.1, Refuse: 0.15,
		Delay: time.Millisecond, Jitter: 3 * time.Millisecond,
	})
	trs := make([]*Transport, 4)
	for i := range trs {
		tr, err := n.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
	}
	mls := startClusterWith(t, trs, func(cfg *memberlist.Config) {
		cfg.SecretKey = []byte("0123456789abcdef")
		cfg.PushPullInterval = 200 * time.Millisecond
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%+v%s", n.Stats(), describe(mls))
		}
	})
	// A join is one push/pull over a stream, so some fail: retry each.
	for _, ml := range mls[1:] {
		waitFor(t, 10*time.Second, func() bool {
			_, err := ml.Join([]string{trs[0].Addr()})
			return err == nil
		})
	}
	// Reliable messages add stream traffic between every pair.
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			from, to := mls[k%4], mls[(k+1+k/4%3)%4]
			_ = from.SendReliable(to.LocalNode(), []byte("payload"))
		}
	}()
	defer func() { close(stop); <-sent }()

	waitFor(t, 30*time.Second, func() bool {
		s := n.Stats()
		return s.StreamWritesDropped >= 5 && s.StreamWritesDuplicated >= 5 &&
			s.StreamWritesCorrupted >= 5 && s.StreamsCut >= 5 && s.StreamsRefusedByRate >= 5
	})
	all := names(mls)
	waitFor(t, 15*time.Second, func() bool { return sees(mls, all, nil) })
}
