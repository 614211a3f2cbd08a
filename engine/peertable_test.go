package engine

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// fakeEventNode builds a memberlist node table entry (the unexported
// nodeState, through the checked layout) and returns its embedded Node, as
// memberlist passes it to the event delegate.
func fakeEventNode(l *mlLayout, name string, h *nodeHeader) *memberlist.Node {
	typ := reflect.TypeFor[memberlist.Memberlist]().FieldByIndex(l.mapIdx).Type.Elem().Elem()
	n := (*memberlist.Node)(reflect.New(typ).UnsafePointer())
	n.Name, n.Addr, n.Port = name, net.IPv4(127, 0, 0, 1), 7946
	n.Meta = h.encode(nil)
	return n
}

// setEventState sets the memberlist state of a node from fakeEventNode.
func setEventState(l *mlLayout, n *memberlist.Node, st memberlist.NodeStateType) {
	*(*memberlist.NodeStateType)(unsafe.Add(unsafe.Pointer(n), l.stateOff)) = st
}

// pendingStates lists the queued changes as "id:state" (removals as
// "id:removed"), in order.
func pendingStates(t *peerTable) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for _, ch := range t.pending {
		if ch.now == nil {
			out = append(out, ch.old.id+":removed")
			continue
		}
		out = append(out, ch.now.id+":"+string(ch.now.state))
	}
	return out
}

// eventTable returns a node that is not started, with its peer table set
// up as Start would, and the event delegate memberlist would call: tests
// feed it events by hand.
func eventTable(t *testing.T) (*Cluster, *mlLayout, membershipEvents) {
	t.Helper()
	c, err := New(testConfig("self"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	l, err := checkMLLayout()
	if err != nil {
		t.Fatal(err)
	}
	c.peers.layout = l
	return c, l, membershipEvents{c: c}
}

// TestPeerTableAppliesEventsInCallback drives the table with the callbacks
// memberlist makes and checks that each is applied before the callback
// returns (no timer, no goroutine: the node is not even started), with the
// state read from memberlist's entry and the leave flag from the header.
func TestPeerTableAppliesEventsInCallback(t *testing.T) {
	c, l, ev := eventTable(t)
	state := func(id string) State {
		if p := c.peers.get(id); p != nil {
			return p.state
		}
		return "absent"
	}

	h := &nodeHeader{instance: 1, metaVersion: 1}
	a := fakeEventNode(l, "a", h)
	setEventState(l, a, memberlist.StateAlive)
	ev.NotifyJoin(a)
	if got := state("a"); got != StateAlive {
		t.Fatalf("after NotifyJoin a is %s, want alive", got)
	}

	// Metadata update: the new header is visible at once.
	a.Meta = (&nodeHeader{instance: 1, metaVersion: 7}).encode(nil)
	ev.NotifyUpdate(a)
	if p := c.peers.get("a"); p.header == nil || p.header.metaVersion != 7 {
		t.Fatalf("after NotifyUpdate a's header is %+v, want metadata version 7", p.header)
	}
	if !c.peers.metaDirt.Load() {
		t.Error("a new metadata version did not mark metadata for a pull")
	}

	// Suspicion (the watch), then death (NotifyLeave, memberlist state dead).
	c.peers.applyState("a", memberlist.StateSuspect)
	if got := state("a"); got != StateSuspect {
		t.Fatalf("after suspicion a is %s", got)
	}
	setEventState(l, a, memberlist.StateDead)
	ev.NotifyLeave(a)
	if got := state("a"); got != StateDead {
		t.Fatalf("after NotifyLeave (dead) a is %s", got)
	}

	// A graceful leave without the header flag (memberlist state left),
	// and one announced by the header flag alone.
	b := fakeEventNode(l, "b", &nodeHeader{instance: 2})
	setEventState(l, b, memberlist.StateAlive)
	ev.NotifyJoin(b)
	setEventState(l, b, memberlist.StateLeft)
	ev.NotifyLeave(b)
	d := fakeEventNode(l, "d", &nodeHeader{instance: 3})
	setEventState(l, d, memberlist.StateAlive)
	ev.NotifyJoin(d)
	d.Meta = (&nodeHeader{instance: 3, leaving: true}).encode(nil)
	ev.NotifyUpdate(d)
	if state("b") != StateLeaving || state("d") != StateLeaving {
		t.Fatalf("b is %s, d is %s, want both leaving", state("b"), state("d"))
	}

	// Back from the dead, then a restart (new instance) while alive.
	setEventState(l, a, memberlist.StateAlive)
	ev.NotifyJoin(a)
	a.Meta = (&nodeHeader{instance: 9, metaVersion: 1}).encode(nil)
	ev.NotifyUpdate(a)

	want := []string{"a:alive", "a:suspect", "a:dead", "b:alive", "b:leaving", "d:alive", "d:leaving", "a:alive", "a:alive"}
	if got := pendingStates(&c.peers); !slices.Equal(got, want) {
		t.Fatalf("changes = %v\nwant      %v", got, want)
	}
	if got := c.peers.alive.Load(); got != 1 {
		t.Fatalf("alive counter = %d, want 1 (a)", got)
	}
}

// seqLog records, per observer and node, every state reported, in order.
type seqLog struct {
	mu  sync.Mutex
	got map[string]map[string][]string
}

func watchSeqs(nodes []*Cluster) *seqLog {
	l := &seqLog{got: map[string]map[string][]string{}}
	for _, c := range nodes {
		obs := c.NodeID()
		l.got[obs] = map[string][]string{}
		c.OnStateChange(func(id, state string) {
			l.mu.Lock()
			l.got[obs][id] = append(l.got[obs][id], state)
			l.mu.Unlock()
		})
	}
	return l
}

func (l *seqLog) of(obs, id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got[obs][id])
}

// TestPeerTableSuspicionReportedAndCleared isolates one node long enough to
// be suspected, not declared dead, then heals: its peers report suspect and
// then alive again, although memberlist fires no event for either (the
// refutation keeps the node's metadata), and the isolated node reports its
// own suspicions of them.
func TestPeerTableSuspicionReportedAndCleared(t *testing.T) {
	fn := newFaultNet(t)
	// A long suspicion (50 probe intervals) leaves time to heal before
	// the node would be declared dead, even on a loaded machine.
	slow := func(id string, tr *faultnet.Transport) Config {
		cfg := faultConfig(id, tr)
		cfg.SuspicionMult = 50
		return cfg
	}
	nodes, addrs := joinedCluster(t, fn, 3, slow, 15*time.Second)
	log := watchSeqs(nodes)
	fn.Isolate(addrs[2])
	for _, o := range nodes[:2] {
		pump(t, o, 10*time.Second, o.NodeID()+" reporting f2 suspect", func() bool {
			return slices.Contains(log.of(o.NodeID(), "f2"), string(StateSuspect))
		})
	}
	// f2 itself completes no probe while cut off: only the watch's
	// fallback timer can notice its suspicions.
	pump(t, nodes[2], 10*time.Second, "isolated f2 reporting f0 suspect", func() bool {
		return slices.Contains(log.of("f2", "f0"), string(StateSuspect))
	})
	fn.Heal()
	for _, o := range nodes[:2] {
		pump(t, o, 10*time.Second, o.NodeID()+" reporting f2 alive again", func() bool {
			s := log.of(o.NodeID(), "f2")
			return len(s) > 0 && s[len(s)-1] == string(StateAlive)
		})
		if got := log.of(o.NodeID(), "f2"); !slices.Equal(got, []string{"suspect", "alive"}) {
			t.Errorf("%s reported f2 as %v, want [suspect alive]", o.NodeID(), got)
		}
		if p := o.peers.get("f2"); p == nil || p.state != StateAlive {
			t.Errorf("%s's table holds f2 as %+v", o.NodeID(), p)
		}
	}
	waitHealthy(t, nodes)
}

// waitHealthy waits until memberlist's health score (its awareness, raised
// by failed probes) is back to zero on every node: a degraded node waits
// up to nine probe intervals for a probe, also after Stop, which the
// goroutine leak check at the end of the run would otherwise catch.
func waitHealthy(t *testing.T, nodes []*Cluster) {
	t.Helper()
	waitFor(t, 30*time.Second, "every node's health score back to 0", func() bool {
		for _, c := range nodes {
			if c.ml.GetHealthScore() != 0 {
				return false
			}
		}
		return true
	})
}

// TestPeerTableLeaveFlagFromHeader announces a leave through the node
// header only (memberlist still holds the node alive): peers report it as
// leaving from the update event.
func TestPeerTableLeaveFlagFromHeader(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	log := watchSeqs(nodes[:1])
	nodes[1].leaving.Store(true)
	if err := nodes[1].ml.UpdateNode(time.Second); err != nil {
		t.Fatal(err)
	}
	// The join may still be reported first: handlers were added after it.
	pump(t, nodes[0], 5*time.Second, "n1 reported leaving", func() bool {
		s := log.of("n0", "n1")
		return len(s) > 0 && s[len(s)-1] == string(StateLeaving)
	})
	if got := log.of("n0", "n1"); slices.Contains(got, string(StateDead)) || slices.Contains(got, string(StateSuspect)) {
		t.Fatalf("n0 reported n1 as %v", got)
	}
	if got := nodes[0].NumAlive(); got != 1 {
		t.Fatalf("n0 counts %d alive, want 1 (itself)", got)
	}
}

// legalStep lists the state changes a peer can go through, as memberlist
// moves it (a dead message can overtake a node's own suspicion, so alive
// may go to dead directly).
var legalStep = map[[2]string]bool{
	{"alive", "suspect"}: true, {"alive", "dead"}: true,
	{"suspect", "alive"}: true, {"suspect", "dead"}: true,
	{"dead", "alive"}: true,
}

// TestPeerTableStateOrderUnderChurn cuts one node off and heals it, twice,
// with 5% packet loss throughout: every peer reports each round's states in
// an order memberlist can produce, sees the suspicion before the death,
// and ends with the node alive.
func TestPeerTableStateOrderUnderChurn(t *testing.T) {
	const rounds = 2
	fn := newFaultNet(t)
	nodes, addrs := faultCluster(t, fn, 5)
	others, victim := nodes[:4], nodes[4]
	log := watchSeqs(others)
	fn.SetLoss(0.05)
	for r := range rounds {
		fn.Isolate(addrs[4])
		waitFor(t, 15*time.Second, fmt.Sprintf("round %d: f4 dead everywhere", r), func() bool {
			return seesStates(others, []*Cluster{victim}, StateDead)
		})
		fn.Heal()
		fn.SetLoss(0.05)
		waitFor(t, 4*faultPushPull+10*time.Second, fmt.Sprintf("round %d: f4 alive everywhere", r), func() bool {
			return seesStates(others, []*Cluster{victim}, StateAlive)
		})
	}
	fn.ResetFaults()
	waitHealthy(t, nodes)
	for _, o := range others {
		seq := log.of(o.NodeID(), "f4")
		prev := "alive"
		deaths, suspectBeforeDeath := 0, true
		sawSuspect := false
		for _, s := range seq {
			if !legalStep[[2]string{prev, s}] {
				t.Errorf("%s reported f4 %s -> %s (all: %v)", o.NodeID(), prev, s, seq)
			}
			switch s {
			case "suspect":
				sawSuspect = true
			case "dead":
				deaths++
				suspectBeforeDeath = suspectBeforeDeath && sawSuspect
				sawSuspect = false
			}
			prev = s
		}
		if deaths != rounds || prev != "alive" {
			t.Errorf("%s reported f4 as %v, want %d deaths ending alive", o.NodeID(), seq, rounds)
		}
		if !suspectBeforeDeath {
			t.Errorf("%s reported a death of f4 without the suspicion before it: %v", o.NodeID(), seq)
		}
	}
}
