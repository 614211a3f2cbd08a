package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// Fault-injection scenarios on an in-memory network (internal/faultnet). The
// timings are memberlist's LAN profile scaled down ten times, so each
// second of test time is ten seconds of LAN gossip: the same number of probe
// and gossip rounds, only faster.
const (
	lanScale          = 10
	faultProbe        = time.Second / lanScale            // LAN ProbeInterval 1s
	faultProbeWait    = 500 * time.Millisecond / lanScale // LAN ProbeTimeout 500ms
	faultGossip       = 200 * time.Millisecond / lanScale // LAN GossipInterval 200ms
	faultPushPull     = 30 * time.Second / lanScale       // LAN PushPullInterval 30s
	faultSuspicion    = 4                                 // LAN SuspicionMult
	faultMsgType      = 200
	lanSoakEquivalent = 30 * time.Second // the LAN soak the loss test must match
)

// faultConfig is a LAN-scaled config for a node on tr.
func faultConfig(id string, tr *faultnet.Transport) Config {
	return Config{
		BindAddr:         tr.Addr(),
		NodeID:           id,
		Transport:        tr,
		ProbeInterval:    faultProbe,
		ProbeTimeout:     faultProbeWait,
		GossipInterval:   faultGossip,
		PushPullInterval: faultPushPull,
		SuspicionMult:    faultSuspicion,
		LeaveTimeout:     time.Second,
	}
}

// newFaultNet returns a network closed after every node of the test has
// stopped (cleanups run last-registered first).
func newFaultNet(t *testing.T) *faultnet.Network {
	t.Helper()
	seed := time.Now().UnixNano()
	t.Logf("faultnet seed %d", seed)
	fn := faultnet.NewNetworkWithSeed(seed)
	t.Cleanup(func() { _ = fn.Close() })
	return fn
}

// faultCluster starts n joined nodes (ids f0, f1, ...) on fn and waits
// until every node sees all of them alive.
func faultCluster(t *testing.T, fn *faultnet.Network, n int) ([]*Cluster, []string) {
	t.Helper()
	return joinedCluster(t, fn, n, faultConfig, 15*time.Second)
}

// joinedCluster starts n nodes (ids f0, f1, ...) on fn with the config
// that cfg gives, joins each to the first, and waits up to bound until
// every node sees all of them alive.
func joinedCluster(t *testing.T, fn *faultnet.Network, n int, cfg func(string, *faultnet.Transport) Config, bound time.Duration) ([]*Cluster, []string) {
	t.Helper()
	nodes := make([]*Cluster, n)
	addrs := make([]string, n)
	for i := range nodes {
		tr, err := fn.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = tr.Addr()
		nodes[i] = startNode(t, cfg(fmt.Sprintf("f%d", i), tr))
		if i > 0 {
			if _, err := nodes[i].Join(context.Background(), []string{addrs[0]}); err != nil {
				t.Fatalf("join f%d: %v", i, err)
			}
		}
	}
	waitFor(t, bound, "all nodes alive everywhere", func() bool { return allSee(nodes, n) })
	return nodes, addrs
}

// faultStates records every state change each node reports.
type faultStates struct {
	mu   sync.Mutex
	seen map[string]map[string]string // observer -> node -> last state
	dead []string                     // "observer saw node dead"
	susp atomic.Int64
}

func watchFaultStates(nodes []*Cluster) *faultStates {
	l := &faultStates{seen: map[string]map[string]string{}}
	for _, c := range nodes {
		obs := c.NodeID()
		l.seen[obs] = map[string]string{}
		c.OnStateChange(func(id, state string) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.seen[obs][id] = state
			switch state {
			case string(StateDead):
				l.dead = append(l.dead, obs+" saw "+id+" dead")
			case string(StateSuspect):
				l.susp.Add(1)
			}
		})
	}
	return l
}

func (l *faultStates) deaths() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.dead...)
}

// faultSeqs records, per receiver and sender, the sequence numbers received.
type faultSeqs struct {
	mu  sync.Mutex
	got map[string]map[string][]int64 // receiver -> sender -> seqs in order
}

func (s *faultSeqs) handler(receiver string) func(Message) {
	return func(m Message) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.got[receiver] == nil {
			s.got[receiver] = map[string][]int64{}
		}
		seq, _ := m.Payload.(int64)
		s.got[receiver][m.Sender.ID] = append(s.got[receiver][m.Sender.ID], seq)
	}
}

// complete reports whether every receiver has want messages from every
// other node.
func (s *faultSeqs) complete(nodes []*Cluster, want int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range nodes {
		for _, snd := range nodes {
			if r != snd && len(s.got[r.NodeID()][snd.NodeID()]) < want {
				return false
			}
		}
	}
	return true
}

// check fails unless every stream is exactly 1..want, in order.
func (s *faultSeqs) check(t *testing.T, nodes []*Cluster, want int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range nodes {
		for _, snd := range nodes {
			if r == snd {
				continue
			}
			seqs := s.got[r.NodeID()][snd.NodeID()]
			if len(seqs) != want {
				t.Errorf("%s got %d messages from %s, want exactly %d", r.NodeID(), len(seqs), snd.NodeID(), want)
				continue
			}
			for i, v := range seqs {
				if v != int64(i+1) {
					t.Errorf("%s: message %d from %s has sequence %d (out of order or duplicated)", r.NodeID(), i+1, snd.NodeID(), v)
					break
				}
			}
		}
	}
}

// TestFaultsLossyNetworkStaysConverged: with 20% of packets lost on every
// link, five nodes stay converged with no node ever declared dead for the
// equivalent of 30 s of LAN gossip, and reliable messages sent meanwhile
// all arrive exactly once and in order.
func TestFaultsLossyNetworkStaysConverged(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	fn := newFaultNet(t)
	nodes, _ := faultCluster(t, fn, 5)
	states := watchFaultStates(nodes)
	var seqs = faultSeqs{got: map[string]map[string][]int64{}}
	for _, c := range nodes {
		if err := c.Handle(faultMsgType, seqs.handler(c.NodeID())); err != nil {
			t.Fatal(err)
		}
	}
	fn.SetLoss(0.2)

	// Soak for the LAN-equivalent duration: 30 s of LAN is 30 probe rounds
	// and 150 gossip rounds; the scaled run does 2x that.
	soak := 2 * lanSoakEquivalent / lanScale
	sent := 0
	start := time.Now()
	for time.Since(start) < soak {
		sent++
		for _, c := range nodes {
			if err := c.Send(context.Background(), faultMsgType, int64(sent), true, -1); err != nil {
				t.Fatalf("%s: reliable send %d: %v", c.NodeID(), sent, err)
			}
			c.Dispatch()
		}
		for _, c := range nodes {
			for _, n := range c.Nodes() {
				if n.State == string(StateDead) {
					t.Fatalf("%s sees %s dead after %v of 20%% loss", c.NodeID(), n.ID, time.Since(start))
				}
			}
		}
		time.Sleep(faultProbe / 2)
	}
	elapsed := time.Since(start)
	if d := states.deaths(); len(d) > 0 {
		t.Fatalf("false deaths under 20%% loss: %v", d)
	}
	// Delivery completes after the loss stops only if it were the loss
	// that held it up; keep the loss on while waiting.
	waitFor(t, 30*time.Second, "every reliable message delivered", func() bool {
		for _, c := range nodes {
			c.Dispatch()
		}
		return seqs.complete(nodes, sent)
	})
	// Give late duplicates a chance to show up before counting.
	deadline := time.Now().Add(5 * faultProbe)
	for time.Now().Before(deadline) {
		for _, c := range nodes {
			c.Dispatch()
		}
		time.Sleep(10 * time.Millisecond)
	}
	seqs.check(t, nodes, sent)
	for _, c := range nodes {
		if got := c.NumAlive(); got != len(nodes) {
			t.Errorf("%s: %d nodes alive at the end, want %d", c.NodeID(), got, len(nodes))
		}
	}
	st := fn.Stats()
	rounds := elapsed / faultProbe
	t.Logf("soak %v: %d probe rounds, %d gossip rounds (LAN 30 s = %d and %d); suspect reports %d, dead 0",
		elapsed.Round(time.Millisecond), rounds, elapsed/faultGossip,
		lanSoakEquivalent/(faultProbe*lanScale), lanSoakEquivalent/(faultGossip*lanScale), states.susp.Load())
	t.Logf("packets sent %d, lost %d (%.1f%%); reliable messages %d per sender per receiver, all exactly once in order",
		st.PacketsSent, st.DroppedLoss, 100*float64(st.DroppedLoss)/float64(max(st.PacketsSent, 1)), sent)
}

// TestFaultsPartitionHeals: {A,B} | {C,D} each mark the other side dead;
// after the partition heals all four are alive everywhere within healBound,
// and metadata set on each side during the partition has reached every
// node within the same bound.
func TestFaultsPartitionHeals(t *testing.T) {
	const (
		splitBound = 15 * time.Second
		// Two rejoin periods (one push/pull interval each) plus the time to
		// gossip the news, with room for a loaded machine.
		healBound = 4*faultPushPull + 5*time.Second
		// memberlist's LAN GossipToTheDeadTime plus a probe-and-reap margin.
		forgetBound = 45 * time.Second
	)
	fn := newFaultNet(t)
	nodes, addrs := faultCluster(t, fn, 4)
	left, right := nodes[:2], nodes[2:]

	fn.Partition(addrs[:2], addrs[2:])
	start := time.Now()
	waitFor(t, splitBound, "each side to see the other dead", func() bool {
		return seesStates(left, right, StateDead) && seesStates(right, left, StateDead)
	})
	t.Logf("partition detected after %v", time.Since(start).Round(time.Millisecond))

	// Metadata changed on both sides while they cannot talk.
	if err := left[0].SetMetadata("side", "ab"); err != nil {
		t.Fatal(err)
	}
	if err := right[0].SetMetadata("side", "cd"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, splitBound, "metadata within each side", func() bool {
		return metaIs(left[1], left[0].NodeID(), "side", "ab") && metaIs(right[1], right[0].NodeID(), "side", "cd")
	})

	// Hold the cut until memberlist has forgotten the other side
	// (GossipToTheDeadTime, 30 s in every profile's scale: the engine does not
	// shorten it). From then on only the engine's rejoin loop remembers where
	// the lost peers were; a heal before that is the easy case.
	waitFor(t, forgetBound, "memberlist to forget the other side", func() bool {
		for _, c := range nodes {
			if c.NumNodes() != 2 {
				return false
			}
		}
		return true
	})
	t.Logf("other side forgotten after %v", time.Since(start).Round(time.Millisecond))

	fn.Heal()
	healed := time.Now()
	waitFor(t, healBound, "all four alive everywhere after the heal", func() bool {
		return seesStates(nodes, nodes, StateAlive)
	})
	aliveAfter := time.Since(healed)
	waitFor(t, healBound-aliveAfter, "partition-time metadata everywhere", func() bool {
		for _, c := range nodes {
			if c != left[0] && !metaIs(c, left[0].NodeID(), "side", "ab") {
				return false
			}
			if c != right[0] && !metaIs(c, right[0].NodeID(), "side", "cd") {
				return false
			}
		}
		return true
	})
	t.Logf("healed: all alive after %v, metadata everywhere after %v (bound %v)",
		aliveAfter.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond), healBound)
}

// seesStates reports whether every observer sees every target (other than
// itself) in state want.
func seesStates(observers, targets []*Cluster, want State) bool {
	for _, o := range observers {
		o.Dispatch()
		byID := map[string]string{}
		for _, n := range o.Nodes() {
			byID[n.ID] = n.State
		}
		for _, tg := range targets {
			if tg != o && byID[tg.NodeID()] != string(want) {
				return false
			}
		}
	}
	return true
}

// metaIs reports whether c knows owner's metadata key as value.
func metaIs(c *Cluster, owner, key string, value any) bool {
	for _, n := range c.Nodes() {
		if n.ID == owner {
			return n.Metadata[key] == value
		}
	}
	return false
}
