package election

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// Timings of the election tests: short, so a partition can outlast the
// forget window within a test.
const (
	testCheck   = 50 * time.Millisecond
	testLease   = 400 * time.Millisecond
	testForget  = 1500 * time.Millisecond
	testTimeout = 20 * time.Second // catches a stall, not a speed
)

// electionNet is a cluster on an in-memory network, every node running
// one election.
type electionNet struct {
	net   *faultnet.Network
	addrs []string
	nodes []*engine.Cluster
	els   []*Election
	w     *watcher
}

func startElectionNet(t *testing.T, n int) *electionNet {
	t.Helper()
	en := &electionNet{net: faultnet.NewNetwork()}
	t.Cleanup(func() { _ = en.net.Close() })
	en.nodes = startCluster(t, n, func(i int, cfg *engine.Config) {
		tr, err := en.net.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Transport = tr
		cfg.BindAddr = tr.Addr()
		en.addrs = append(en.addrs, tr.Addr())
	})
	for _, c := range en.nodes {
		e, err := New(c, testCheck, testLease, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.forget = testForget
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Stop)
		en.els = append(en.els, e)
	}
	en.w = watch(t, en.els)
	return en
}

// leaders returns the indexes of the nodes leading now, with their terms.
func (en *electionNet) leaders() (idx []int, terms []uint64) {
	for i, e := range en.els {
		if leading, _, term := e.view(); leading {
			idx = append(idx, i)
			terms = append(terms, term)
		}
	}
	return idx, terms
}

// waitLeader waits until exactly one of the nodes in among leads and
// every node of among knows it; it returns the leader's index and term.
func (en *electionNet) waitLeader(t *testing.T, what string, among []int) (int, uint64) {
	t.Helper()
	leader, term := -1, uint64(0)
	waitFor(t, testTimeout, what, func() bool {
		idx, terms := en.leaders()
		idx = slices.DeleteFunc(idx, func(i int) bool { return !slices.Contains(among, i) })
		if len(idx) != 1 {
			return false
		}
		leader, term = idx[0], terms[slices.Index(terms, terms[0])]
		for _, i := range among {
			if _, id, tm := en.els[i].view(); id != en.nodes[leader].NodeID() || tm != term {
				return false
			}
		}
		return true
	})
	return leader, term
}

// watcher samples every node's leadership until the test ends and fails
// the test when two nodes lead at once, two nodes lead in one term, or a
// node learns of a leader in an older term than a leader it knew before.
type watcher struct {
	els  []*Election
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	problems []string
	byTerm   map[uint64]int // term -> the node seen leading in it
	last     []uint64       // per node: the newest leader term it knew
	samples  int
}

func watch(t *testing.T, els []*Election) *watcher {
	w := &watcher{els: els, stop: make(chan struct{}), done: make(chan struct{}),
		byTerm: map[uint64]int{}, last: make([]uint64, len(els))}
	go w.run()
	t.Cleanup(func() {
		w.finish()
		for _, p := range w.problems {
			t.Error(p)
		}
	})
	return w
}

func (w *watcher) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *watcher) run() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		w.sweep()
		time.Sleep(time.Millisecond)
	}
}

// sweep samples every node once. Two nodes found leading are reported only
// when the first still leads in the same term after the second was seen
// leading: the sampler may be descheduled between two nodes, so a handover
// between the samples is not an overlap, but a leader seen before and
// after another's sample led throughout it.
func (w *watcher) sweep() {
	type seen struct {
		i    int
		term uint64
	}
	var leading []seen
	for i, e := range w.els {
		lead, leader, term := e.view()
		w.record(i, lead, leader != "", term)
		if lead {
			leading = append(leading, seen{i, term})
		}
	}
	if len(leading) > 1 {
		first := leading[0]
		lead, _, term := w.els[first.i].view()
		if lead && term == first.term {
			w.report(fmt.Sprintf("two leaders at once: n%d (term %d) and n%d (term %d)", first.i, first.term, leading[1].i, leading[1].term))
		}
	}
	w.mu.Lock()
	w.samples++
	w.mu.Unlock()
}

func (w *watcher) record(i int, lead, known bool, term uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lead {
		if j, ok := w.byTerm[term]; ok && j != i {
			w.problems = append(w.problems, fmt.Sprintf("n%d and n%d both led in term %d", j, i, term))
		}
		w.byTerm[term] = i
	}
	if known {
		if term < w.last[i] {
			w.problems = append(w.problems, fmt.Sprintf("n%d knows a leader of term %d after one of term %d", i, term, w.last[i]))
		}
		w.last[i] = max(w.last[i], term)
	}
}

func (w *watcher) report(p string) {
	w.mu.Lock()
	w.problems = append(w.problems, p)
	w.mu.Unlock()
}

func (w *watcher) sweeps() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.samples
}

// terms returns the terms seen led, in order, with their leaders.
func (w *watcher) terms() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]uint64, 0, len(w.byTerm))
	for k := range w.byTerm {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf(" %d:n%d", k, w.byTerm[k])
	}
	return out
}

// holdFor keeps checking cond for d (the watcher checks the invariants
// meanwhile); cond must hold at every poll.
func holdFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func indexes(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// allBut returns the indexes 0 .. n-1 without skip.
func allBut(n, skip int) []int {
	return slices.DeleteFunc(indexes(0, n), func(i int) bool { return i == skip })
}

// A 2/2 partition lasting several forget windows: neither side has a
// strict majority of an electorate that still counts the other side, so
// neither elects a leader; after the heal one node leads, in a newer term.
func TestElectionHalfPartitionOutlastsForgetWindow(t *testing.T) {
	en := startElectionNet(t, 4)
	all := indexes(0, 4)
	_, before := en.waitLeader(t, "first leader", all)

	en.net.Partition(en.addrs[:2], en.addrs[2:])
	cut := time.Now()
	waitFor(t, testTimeout, "the old leader's lease to run out", func() bool {
		return time.Since(cut) > testLease
	})
	holdFor(t, 3*testForget, "during the 2/2 partition", func() error {
		if idx, terms := en.leaders(); len(idx) > 0 {
			return fmt.Errorf("n%v lead (terms %v) though neither side has a majority", idx, terms)
		}
		return nil
	})
	for i, e := range en.els {
		e.mu.Lock()
		n := len(e.known)
		e.mu.Unlock()
		if n != 4 {
			t.Errorf("n%d forgot unreachable members: electorate of %d, want 4", i, n)
		}
	}

	en.net.Heal()
	_, after := en.waitLeader(t, "one leader after the heal", all)
	if after <= before {
		t.Fatalf("term after the heal %d, want above %d", after, before)
	}
	t.Logf("terms led:%s; %d sweeps", en.w.terms(), en.w.sweeps())
}

// A 3/2 partition that outlasts the forget window, with the leader on the
// minority side: the majority elects a leader in a newer term, the minority
// has none; after the heal one node leads.
func TestElectionMajorityPartition(t *testing.T) {
	en := startElectionNet(t, 5)
	all := indexes(0, 5)
	first, before := en.waitLeader(t, "first leader", all)
	if first != 0 {
		t.Fatalf("n%d leads at start, want the lowest id n0", first)
	}

	minority, majority := []int{0, 1}, []int{2, 3, 4}
	en.net.Partition(en.addrs[:2], en.addrs[2:])
	_, during := en.waitLeader(t, "a leader on the majority side", majority)
	if during <= before {
		t.Fatalf("majority leader's term %d, want above %d", during, before)
	}
	holdFor(t, 2*testForget, "during the 3/2 partition", func() error {
		idx, _ := en.leaders()
		if len(idx) != 1 || !slices.Contains(majority, idx[0]) {
			return fmt.Errorf("leaders n%v, want one on the majority side", idx)
		}
		for _, i := range minority {
			if id, ok := en.els[i].GetLeaderID(); ok {
				return fmt.Errorf("minority node n%d knows a leader %s", i, id)
			}
		}
		return nil
	})

	en.net.Heal()
	_, after := en.waitLeader(t, "one leader after the heal", all)
	if after < during {
		t.Fatalf("term after the heal %d, below the partition's %d", after, during)
	}
	t.Logf("terms led:%s; %d sweeps", en.w.terms(), en.w.sweeps())
}

// A leader cut off from everyone (what a paused process looks like to the
// others) stops being leader by its own clock within one lease of losing
// its votes, the others elect a leader in a newer term, and when it comes
// back it learns of that term and does not take over.
func TestElectionIsolatedLeaderLosesLease(t *testing.T) {
	en := startElectionNet(t, 3)
	old, term := en.waitLeader(t, "first leader", indexes(0, 3))
	events := make(chan string, 64)
	if err := en.els[old].OnEvent(EventSteppedDown, func(kind, id string, tm int) {
		events <- fmt.Sprintf("%s %s %d", kind, id, tm)
	}); err != nil {
		t.Fatal(err)
	}

	en.net.Isolate(en.addrs[old])
	cut := time.Now()
	// Every ack it counts was for a claim sent before the cut, so any call
	// after cut+lease must answer false: no slack is needed.
	waitFor(t, testTimeout, "one lease after the cut", func() bool { return time.Since(cut) > testLease })
	if en.els[old].IsLeader() {
		t.Fatalf("isolated n%d still leads one lease after the cut", old)
	}
	rest := allBut(len(en.els), old)
	newLeader, newTerm := en.waitLeader(t, "a leader among the others", rest)
	if newTerm <= term {
		t.Fatalf("new leader n%d has term %d, want above %d", newLeader, newTerm, term)
	}
	en.nodes[old].Dispatch()
	select {
	case got := <-events:
		if want := fmt.Sprintf("stepped_down %s %d", en.nodes[old].NodeID(), term); got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	default:
		t.Error("no stepped_down event")
	}

	en.net.Heal()
	waitFor(t, testTimeout, "the old leader to learn the newer term", func() bool {
		lead, id, tm := en.els[old].view()
		return !lead && id == en.nodes[newLeader].NodeID() && tm >= newTerm
	})
	if idx, _ := en.leaders(); len(idx) != 1 || idx[0] != newLeader {
		t.Fatalf("leaders n%v after the heal, want the incumbent n%d", idx, newLeader)
	}
	t.Logf("terms led:%s; %d sweeps", en.w.terms(), en.w.sweeps())
}

// Stopping the leader's election hands over at once to a newer term, and
// events carry the term of the leadership they are about.
func TestElectionEventsCarryTerms(t *testing.T) {
	en := startElectionNet(t, 3)
	type ev struct {
		kind, id string
		term     int
	}
	var mu sync.Mutex
	var got []ev
	for _, kind := range electionEvents {
		if err := en.els[2].OnEvent(kind, func(k, id string, term int) {
			mu.Lock()
			got = append(got, ev{k, id, term})
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	first, t1 := en.waitLeader(t, "first leader", indexes(0, 3))
	en.els[first].Stop()
	if en.els[first].IsLeader() {
		t.Fatal("a stopped election still leads")
	}
	rest := allBut(len(en.els), first)
	second, t2 := en.waitLeader(t, "next leader", rest)
	if t2 <= t1 {
		t.Fatalf("term %d after the handover, want above %d", t2, t1)
	}
	want := []ev{{EventElected, en.nodes[first].NodeID(), int(t1)}, {EventLost, en.nodes[first].NodeID(), int(t1)}, {EventElected, en.nodes[second].NodeID(), int(t2)}}
	if second == 2 {
		want = append(want, ev{EventBecameLeader, en.nodes[2].NodeID(), int(t2)})
	}
	waitFor(t, testTimeout, "events on n2", func() bool {
		en.nodes[2].Dispatch()
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if tm := en.els[2].GetTerm(); tm != int(t2) {
		t.Fatalf("GetTerm %d, want %d", tm, t2)
	}
}

// The vote: one holder per term, never a lower term, a lease that holds
// off other claimants, and no vote in the first lease after start.
func TestElectionVoteRules(t *testing.T) {
	c := &voter{grants: map[string]*grant{}}
	const key, d = "", time.Second
	t0 := time.Now()
	check := func(what string, who string, term uint64, at time.Duration, want byte) {
		t.Helper()
		if got, _ := c.vote(key, who, term, d, t0.Add(at)); got != want {
			t.Fatalf("%s: vote %d, want %d", what, got, want)
		}
	}
	check("just started", "a", 1, 0, voteWaiting)
	check("after one lease", "a", 1, d, voteGranted)
	check("renewal", "a", 1, d+d/2, voteGranted)
	check("another claimant during the lease", "b", 2, d+d/2, voteBusy)
	check("same term to another after the lease", "b", 1, 3*d, voteTermTaken)
	check("lower term", "b", 0, 3*d, voteTermTaken)
	check("newer term after the lease", "b", 2, 3*d, voteGranted)
	check("old holder, old term", "a", 1, 5*d, voteTermTaken)
	check("old holder, old term number again", "a", 2, 5*d, voteTermTaken)
	c.releaseVote(key, "b")
	check("after a resign, a newer term", "a", 3, 5*d, voteGranted)
	if got := c.ballotTerm(key); got != 3 {
		t.Fatalf("ballot term %d, want 3", got)
	}
}

// Every enabled node votes, whether or not it runs an election: the only
// node running one, among three eligible nodes and with a minimum of two
// votes, leads with the vote of a node that runs none.
func TestEnabledNodeVotesWithoutElection(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	e, err := New(nodes[0], testCheck, testLease, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	waitFor(t, testTimeout, "the only candidate leads", e.IsLeader)
	if id, ok := e.GetLeaderID(); !ok || id != "n0" {
		t.Fatalf("leader %q (known %v), want n0", id, ok)
	}
}

// New checks its arguments, naming the parameter at fault.
func TestNewBadArguments(t *testing.T) {
	c, err := engine.New(testConfig("args"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	for _, tc := range []struct {
		check, lease time.Duration
		min          int
		criteria     map[string]string
		want         string
	}{
		{0, time.Second, 1, nil, "check_interval"},
		{time.Second, time.Second, 1, nil, "leader_timeout"},
		{time.Second, 2 * time.Hour, 1, nil, "leader_timeout"},
		{time.Second, 3 * time.Second, 0, nil, "min_cluster_size"},
		{time.Second, 3 * time.Second, 1, map[string]string{"": "x"}, "metadata_criteria"},
	} {
		_, err := New(c, tc.check, tc.lease, tc.min, tc.criteria)
		if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v, %v, %d, %v): %v, want an ErrInvalidArgument naming %s", tc.check, tc.lease, tc.min, tc.criteria, err, tc.want)
		}
	}
	e, err := New(c, time.Second, 3*time.Second, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("Start on a node not started: %v, want ErrNotRunning", err)
	}
	if err := e.OnEvent("nope", func(string, string, int) {}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Fatalf("OnEvent with a bad type: %v", err)
	}
}
