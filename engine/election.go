package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Leader election.
//
// Eligible nodes are the alive nodes whose metadata matches the election's
// criteria. Each node keeps an electorate: the eligible nodes it has seen
// alive (election_electorate.go). A node that leaves gracefully, or stays
// alive but stops matching the criteria, is dropped at once: it announced
// it, and it no longer claims. A node that fails stays, because from inside
// a partition a failed node and an unreachable one look the same. A node
// drops a member not seen alive for the forget window only while it itself
// sees a strict majority of its current electorate alive: a minority side
// can never shrink its electorate into a majority, while the majority side
// recovers from permanent crashes, one forget window at a time. So a
// 2-node electorate that loses one node by a crash has no leader until that
// node comes back or leaves gracefully (the survivor sees 1 of 2), and a
// 50/50 partition has no leader on either side for as long as it lasts.
//
// Terms (election_claim.go, election_votes.go). Every claim carries a term.
// A node starting a claim asks for one more than the highest term it has
// seen. Every node (whether or not it runs an election) holds one vote per
// election: it grants it to at most one claimant per term, never for a term
// lower than the highest it has granted, and, as a lease, refuses every
// other claimant until the holder's lease (the claimant's leader timeout
// from the claim's arrival, renewed by each later claim) has run out or the
// holder resigned. Every answer carries the voter's highest term, so a
// claimant learns of newer terms and starts a new claim above them. A
// claimant is leader while the votes acknowledged for claims of its term
// sent within the last leader timeout (its own included) are a strict
// majority of its electorate and at least MinClusterSize. Two majorities of
// one electorate share a voter, and that voter grants a term to one holder
// only: no two nodes lead in the same term. And because a voter's lease
// outlasts the claimant's count of it, no two nodes lead at the same
// instant either: an isolated or paused leader stops being leader by its
// own clock within one leader timeout of its last acknowledged claim,
// before its voters may vote for anyone else. This assumes the nodes'
// clocks run at the same rate (not that they agree); a node restarted with
// the same id has forgotten its votes, so it grants none for one lease
// after the first claim it hears.
//
// Who claims: a node that is eligible, sees a strict majority of its
// electorate alive (and at least MinClusterSize nodes), and does not defer.
// A node that is not leader defers to a leader it hears of, and to a lower
// alive eligible id that claimed within the last leader timeout; at start
// it waits one leader timeout before claiming when it sees a lower id, so
// the lowest id wins a cluster's first election, and when the leader goes
// away it waits one check interval per lower alive id, so the lowest id
// taking part wins a failover too. A leader does not yield to
// a lower id (that would only move leadership after a pause or a heal); it
// steps down when it learns of a newer term than its own. Claims carry the
// term and whether the sender holds a majority; the other nodes take the
// latest leader claim as the leader for one leader timeout, which is what
// HasLeader, GetLeaderID and GetTerm report there.
//
// Limits: electorates that differ between nodes weaken the majority rule. A
// node that joins during a partition knows only the side it joined (and
// the failed nodes memberlist still lists), and a member forgotten by the
// majority side that comes back while the cluster is split another way is
// counted again at once. MinClusterSize set to more than half of all
// eligible nodes keeps the single-leader guarantee in those cases too. Terms
// are kept in memory: when every node restarts, terms start again from 1.

// LeaderElection elects one leader among the eligible nodes.
type LeaderElection struct {
	c        *Cluster
	key      string
	criteria map[string]string
	check    time.Duration
	timeout  time.Duration
	minSize  int
	forget   time.Duration // how long a failed member stays in the electorate at least

	mu       sync.Mutex
	handlers map[string][]func(string, string, int)
	running  bool
	stopCh   chan struct{}
	done     chan struct{}
	started  time.Time

	known     map[string]time.Time // electorate: eligible id -> last seen alive
	forgotten map[string]bool      // dropped as long dead; back only when seen alive
	peerSize  map[string]sizeSeen  // electorate sizes voters reported

	claiming bool
	term     uint64 // term of the current claim
	stale    bool   // a newer leader or term exists: no longer leader, next claim takes a new term
	behind   bool   // a voter moved to a newer term: once no longer leader, take a new term
	highest  uint64 // highest term seen anywhere
	seq      uint64
	sentAt   map[uint64]time.Time // claims of the current term sent within a lease
	acks     map[string]time.Time // voter -> send time of its latest granted claim
	selfVote time.Time

	heard       map[string]time.Time  // claimant -> when its latest claim arrived
	latest      map[string]claimOrder // claimant -> its latest claim or resignation seen
	obsLeader   string                // leader announced by claims, on other nodes
	obsTerm     uint64
	obsUntil    time.Time
	lastLeader  string // leader as last reported by events
	lastTerm    uint64
	vacantSince time.Time // when another node's leadership known here ended
}

// CreateLeaderElection prepares an election among the nodes whose
// metadata matches criteria (nil: every node); Start begins it. Every
// eligible node should run an election with the same criteria and
// timings. leaderTimeout must be longer than checkInterval.
func (c *Cluster) CreateLeaderElection(checkInterval, leaderTimeout time.Duration, minClusterSize int, criteria map[string]string) (*LeaderElection, error) {
	switch {
	case checkInterval <= 0:
		return nil, fmt.Errorf("%w: check_interval must be positive, got %v", ErrInvalidArgument, checkInterval)
	case leaderTimeout <= checkInterval:
		return nil, fmt.Errorf("%w: leader_timeout (%v) must be longer than check_interval (%v)", ErrInvalidArgument, leaderTimeout, checkInterval)
	case leaderTimeout > maxClaimTimeout:
		return nil, fmt.Errorf("%w: leader_timeout must be at most %v, got %v", ErrInvalidArgument, maxClaimTimeout, leaderTimeout)
	case minClusterSize < 1:
		return nil, fmt.Errorf("%w: min_cluster_size must be at least 1, got %d", ErrInvalidArgument, minClusterSize)
	}
	if err := checkCriteria(criteria, "metadata_criteria"); err != nil {
		return nil, err
	}
	return &LeaderElection{
		c: c, key: electionKey(criteria), criteria: maps.Clone(criteria),
		check: checkInterval, timeout: leaderTimeout, minSize: minClusterSize,
		forget:   max(time.Minute, 20*leaderTimeout),
		handlers: map[string][]func(string, string, int){},
	}, nil
}

// electionKey names an election by its criteria, so elections with
// different criteria vote independently.
func electionKey(criteria map[string]string) string {
	keys := slices.Sorted(maps.Keys(criteria))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(criteria[k])
		b.WriteByte(0)
	}
	return b.String()
}

// Dispatch runs the cluster's queued handlers, election events included.
func (e *LeaderElection) Dispatch() { e.c.Dispatch() }

// Start begins taking part; starting a running election does nothing.
func (e *LeaderElection) Start() error {
	if !e.c.running() || e.c.left.Load() {
		return errNotRunning()
	}
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return nil
	}
	e.running = true
	e.stopCh, e.done = make(chan struct{}), make(chan struct{})
	e.known = map[string]time.Time{}
	e.forgotten = map[string]bool{}
	e.peerSize = map[string]sizeSeen{}
	e.sentAt = map[uint64]time.Time{}
	e.acks = map[string]time.Time{}
	e.heard = map[string]time.Time{}
	e.latest = map[string]claimOrder{}
	e.started = time.Now()
	e.mu.Unlock()
	x := &e.c.x
	x.voteMu.Lock()
	if x.elections == nil {
		x.elections = map[string][]*LeaderElection{}
	}
	x.elections[e.key] = append(x.elections[e.key], e)
	x.voteMu.Unlock()
	go e.loop(e.stopCh, e.done)
	return nil
}

// Stop ends taking part: a leader resigns at once. Stopping a stopped
// election does nothing; it may be started again.
func (e *LeaderElection) Stop() {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return
	}
	e.running = false
	close(e.stopCh)
	done := e.done
	e.mu.Unlock()
	<-done
	x := &e.c.x
	x.voteMu.Lock()
	x.elections[e.key] = slices.DeleteFunc(x.elections[e.key], func(o *LeaderElection) bool { return o == e })
	x.voteMu.Unlock()
	e.mu.Lock()
	resign := e.stopClaimingLocked()
	e.obsLeader = ""
	e.updateLocked(time.Now())
	e.mu.Unlock()
	resign()
}

func (e *LeaderElection) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(e.check)
	defer t.Stop()
	for {
		e.tick()
		select {
		case <-stop:
			return
		case <-e.c.stopCh:
			return
		case <-t.C:
		}
	}
}

// IsLeader reports whether this node is the leader now. It is computed
// from the clock at the call, so a node that was paused past its lease
// answers false before it has heard from anyone.
func (e *LeaderElection) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	return e.leaderLocked(now)
}

// GetLeaderID returns the leader known to this node, if any.
func (e *LeaderElection) GetLeaderID() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	id, _ := e.currentLocked(now)
	return id, id != ""
}

// HasLeader reports whether a leader is known to this node.
func (e *LeaderElection) HasLeader() bool {
	_, ok := e.GetLeaderID()
	return ok
}

// GetTerm returns the term of the leader known to this node, or the
// highest term it has seen when no leader is known; 0 before any.
func (e *LeaderElection) GetTerm() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	if id, term := e.currentLocked(now); id != "" {
		return int(term)
	}
	return int(e.highest)
}

// SendToPeers sends payload to every alive eligible node but this one.
func (e *LeaderElection) SendToPeers(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration) error {
	return e.c.sendMany(ctx, msgType, payload, reliable, timeout, "", func(p *peerInfo) bool {
		return matchCriteria(e.criteria, e.c.meta.valuesOf(p.id))
	})
}

// view is, under one lock, whether this node leads, the leader it knows
// ("" for none) and the term GetTerm reports.
func (e *LeaderElection) view() (leading bool, leader string, term uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	leader, term = e.currentLocked(now)
	if leader == "" {
		term = e.highest
	}
	return leader == e.c.id, leader, term
}
