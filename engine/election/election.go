package election

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/engine/groups"
)

// Election elects one leader among the eligible nodes.
type Election struct {
	c        *engine.Cluster
	v        *voter // this node's vote (votes.go)
	id       string // this node's id
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

// New prepares an election on c among the nodes whose metadata matches
// criteria (nil: every node; see groups.Match); Start begins it. Every
// eligible node should run an election with the same criteria and
// timings. leaderTimeout must be longer than checkInterval. New makes c a
// voter (Enable) if it was not one already.
func New(c *engine.Cluster, checkInterval, leaderTimeout time.Duration, minClusterSize int, criteria map[string]string) (*Election, error) {
	switch {
	case checkInterval <= 0:
		return nil, fmt.Errorf("%w: check_interval must be positive, got %v", engine.ErrInvalidArgument, checkInterval)
	case leaderTimeout <= checkInterval:
		return nil, fmt.Errorf("%w: leader_timeout (%v) must be longer than check_interval (%v)", engine.ErrInvalidArgument, leaderTimeout, checkInterval)
	case leaderTimeout > maxClaimTimeout:
		return nil, fmt.Errorf("%w: leader_timeout must be at most %v, got %v", engine.ErrInvalidArgument, maxClaimTimeout, leaderTimeout)
	case minClusterSize < 1:
		return nil, fmt.Errorf("%w: min_cluster_size must be at least 1, got %d", engine.ErrInvalidArgument, minClusterSize)
	}
	if err := groups.CheckCriteria(criteria, "metadata_criteria"); err != nil {
		return nil, err
	}
	return &Election{
		c: c, v: voterOf(c), id: c.NodeID(), key: electionKey(criteria), criteria: maps.Clone(criteria),
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
func (e *Election) Dispatch() { e.c.Dispatch() }

// Start begins taking part; starting a running election does nothing.
func (e *Election) Start() error {
	if !e.c.CanSend() {
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
	e.v.add(e)
	go e.loop(e.stopCh, e.done)
	return nil
}

// Stop ends taking part: a leader resigns at once. Stopping a stopped
// election does nothing; it may be started again.
func (e *Election) Stop() {
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
	e.v.remove(e)
	e.mu.Lock()
	resign := e.stopClaimingLocked()
	e.obsLeader = ""
	e.updateLocked(time.Now())
	e.mu.Unlock()
	resign()
}

func (e *Election) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(e.check)
	defer t.Stop()
	for {
		e.tick()
		select {
		case <-stop:
			return
		case <-e.c.Done():
			return
		case <-t.C:
		}
	}
}

// IsLeader reports whether this node is the leader now. It is computed
// from the clock at the call, so a node that was paused past its lease
// answers false before it has heard from anyone.
func (e *Election) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	return e.leaderLocked(now)
}

// GetLeaderID returns the leader known to this node, if any.
func (e *Election) GetLeaderID() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	id, _ := e.currentLocked(now)
	return id, id != ""
}

// HasLeader reports whether a leader is known to this node.
func (e *Election) HasLeader() bool {
	_, ok := e.GetLeaderID()
	return ok
}

// GetTerm returns the term of the leader known to this node, or the
// highest term it has seen when no leader is known; 0 before any.
func (e *Election) GetTerm() int {
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
func (e *Election) SendToPeers(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration) error {
	var ids []string
	for _, n := range e.c.AliveNodes() {
		if groups.Counted(e.criteria, n) {
			ids = append(ids, n.ID)
		}
	}
	return e.c.SendToNodes(ctx, ids, msgType, payload, reliable, timeout)
}

// view is, under one lock, whether this node leads, the leader it knows
// ("" for none) and the term GetTerm reports.
func (e *Election) view() (leading bool, leader string, term uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.updateLocked(now)
	leader, term = e.currentLocked(now)
	if leader == "" {
		term = e.highest
	}
	return leader == e.id, leader, term
}

// errNotRunning is the engine's error for a node that is not running.
func errNotRunning() error {
	return fmt.Errorf("%w: start the cluster first, and do not use it after stop", engine.ErrNotRunning)
}
