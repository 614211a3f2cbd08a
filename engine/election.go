package engine

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Leader election.
//
// Eligible nodes are the alive nodes whose metadata matches the election's
// criteria. Every node remembers the eligible nodes it has seen alive (its
// electorate): one that leaves gracefully is dropped at once, one that
// fails stays for forgetAfter, so a partitioned minority keeps counting
// the nodes it can no longer see.
//
// Candidate: every check interval, a node that is eligible, sees a strict
// majority of its electorate alive (and at least MinClusterSize nodes) and
// has not heard a claim within the last leader timeout from an alive
// eligible node with a lower id, claims: it sends a claim to every alive
// peer and votes for itself. So the lowest id taking part leads; nodes not
// running the election stay silent and are passed over, though they still
// count toward the majority and still vote. When several claim at once
// (at start-up), all but the lowest hear a lower claim by the next round
// and resign, releasing their votes. To keep start-up from electing a
// short-lived leader, a node that sees a lower eligible id waits one
// leader timeout after Start before its first claim, so it hears the
// lower node's claims first if it makes any.
//
// Votes are leases. Every node (whether or not it runs an election) grants
// its vote for an election to one claimant at a time, for the claimant's
// leader timeout from when the claim arrived, renewed by each later claim;
// it refuses other claimants until the grant expires or its holder
// resigns. A claimant is leader while the votes acknowledged for claims it
// sent within the last leader timeout (its own included) are a strict
// majority of its electorate and at least MinClusterSize. Because a voter's
// grant outlasts the claimant's count of it, two nodes with the same
// electorate can never both hold a majority: under a partition at most one
// side has a leader, and an isolated leader stops being leader within one
// leader timeout of losing its votes, before the other side's votes for it
// run out. Electorates that differ (a partition lasting longer than
// forgetAfter, nodes joining during one) weaken this; MinClusterSize set to
// a majority of the full cluster keeps the guarantee regardless.
//
// A claimant that sees a lower eligible id, or loses sight of a majority,
// stops claiming and resigns so voters can move on at once. Claims carry
// whether the sender currently holds a majority; the other nodes take the
// latest such claim as the leader for one leader timeout, which is what
// HasLeader and GetLeaderID report there. Events are queued for Dispatch
// whenever the leader known to this node changes.

// Internal message types of leader election; below MinUserMessageType.
const (
	msgElectClaim  = 42 // key, seq, timeout ms, holds-majority flag
	msgElectAck    = 43 // key, seq, granted
	msgElectResign = 44 // key
)

// Election event types passed to OnEvent handlers.
const (
	EventElected      = "elected"       // a leader became known (its id)
	EventLost         = "lost"          // the known leader is gone (its id)
	EventBecameLeader = "became_leader" // this node became leader
	EventSteppedDown  = "stepped_down"  // this node stopped being leader
)

var electionEvents = []string{EventElected, EventLost, EventBecameLeader, EventSteppedDown}

// grant is a node's vote in one election.
type grant struct {
	holder string
	until  time.Time
}

// LeaderElection elects one leader among the eligible nodes.
type LeaderElection struct {
	c        *Cluster
	key      string
	criteria map[string]string
	check    time.Duration
	timeout  time.Duration
	minSize  int
	forget   time.Duration

	mu         sync.Mutex
	handlers   map[string][]func(string, string)
	running    bool
	stopCh     chan struct{}
	done       chan struct{}
	known      map[string]time.Time // electorate: eligible id -> last seen alive
	claiming   bool
	seq        uint64
	sentAt     map[uint64]time.Time
	acks       map[string]time.Time // voter -> send time of its latest acked claim
	selfVote   time.Time
	started    time.Time
	heard      map[string]time.Time // claimant -> when its latest claim arrived
	obsLeader  string               // leader announced by claims, on other nodes
	obsUntil   time.Time
	lastLeader string // leader as last reported by events
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
		handlers: map[string][]func(string, string){},
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

// OnEvent registers fn for eventType ("elected", "lost", "became_leader"
// or "stepped_down"); fn gets the event type and the leader's node id.
func (e *LeaderElection) OnEvent(eventType string, fn func(eventType string, nodeID string)) error {
	if !slices.Contains(electionEvents, eventType) {
		return fmt.Errorf("%w: event_type must be one of %s, got %q", ErrInvalidArgument, strings.Join(electionEvents, ", "), eventType)
	}
	if fn == nil {
		return errNilHandler("handler")
	}
	e.mu.Lock()
	e.handlers[eventType] = append(e.handlers[eventType], fn)
	e.mu.Unlock()
	return nil
}

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
	e.sentAt = map[uint64]time.Time{}
	e.acks = map[string]time.Time{}
	e.heard = map[string]time.Time{}
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

// tick refreshes the electorate, claims or resigns, and reports changes.
func (e *LeaderElection) tick() {
	c := e.c
	now := time.Now()
	nodes := c.Nodes()
	e.mu.Lock()
	var alive []string
	for _, n := range nodes {
		eligible := matchCriteria(e.criteria, n.Metadata)
		switch {
		case n.State == string(StateAlive) && eligible:
			e.known[n.ID] = now
			alive = append(alive, n.ID)
		case n.State == string(StateLeaving) || n.State == string(StateAlive):
			delete(e.known, n.ID) // left, or no longer eligible
		}
	}
	for id, seen := range e.known {
		if now.Sub(seen) > e.forget {
			delete(e.known, id)
		}
	}
	quorum := len(alive)*2 > len(e.known) && len(alive) >= e.minSize
	lower := slices.ContainsFunc(alive, func(id string) bool {
		t, ok := e.heard[id]
		return id < c.id && (ok && now.Sub(t) < e.timeout || now.Sub(e.started) < e.timeout)
	})
	want := quorum && !lower && slices.Contains(alive, c.id) && c.running() && !c.left.Load()
	send := func() {}
	if want {
		send = e.claimLocked(now)
	} else if e.claiming {
		send = e.stopClaimingLocked()
	}
	if e.obsLeader != "" && !slices.Contains(alive, e.obsLeader) {
		e.obsLeader = ""
	}
	e.updateLocked(now)
	e.mu.Unlock()
	send()
}

// claimLocked starts a claim round and returns the function that sends it.
func (e *LeaderElection) claimLocked(now time.Time) func() {
	e.claiming = true
	e.seq++
	e.sentAt[e.seq] = now
	for s, t := range e.sentAt {
		if now.Sub(t) > e.timeout {
			delete(e.sentAt, s)
		}
	}
	if e.c.grantVote(e.key, e.c.id, e.timeout, now) {
		e.selfVote = now
	}
	body := appendString(nil, e.key)
	body = binary.AppendUvarint(body, e.seq)
	body = binary.AppendUvarint(body, uint64(e.timeout/time.Millisecond))
	flag := byte(0)
	if e.leaderLocked(now) {
		flag = 1
	}
	body = append(body, flag)
	return func() { e.c.sendControlAll(msgElectClaim, body) }
}

// stopClaimingLocked gives up a claim and returns the function that
// tells the voters.
func (e *LeaderElection) stopClaimingLocked() func() {
	if !e.claiming {
		return func() {}
	}
	e.claiming = false
	clear(e.acks)
	e.selfVote = time.Time{}
	e.c.releaseVote(e.key, e.c.id)
	body := appendString(nil, e.key)
	return func() { e.c.sendControlAll(msgElectResign, body) }
}

// leaderLocked reports whether this node holds a majority of votes now.
func (e *LeaderElection) leaderLocked(now time.Time) bool {
	if !e.claiming || !e.running {
		return false
	}
	var times []time.Time
	if !e.selfVote.IsZero() {
		times = append(times, e.selfVote)
	}
	for id, t := range e.acks {
		if _, ok := e.known[id]; ok && id != e.c.id {
			times = append(times, t)
		}
	}
	need := max(len(e.known)/2+1, e.minSize)
	if len(times) < need {
		return false
	}
	sort.Slice(times, func(i, j int) bool { return times[i].After(times[j]) })
	return now.Before(times[need-1].Add(e.timeout))
}

// currentLocked is the leader as known here now, "" for none.
func (e *LeaderElection) currentLocked(now time.Time) string {
	if e.leaderLocked(now) {
		return e.c.id
	}
	if !e.running || e.obsLeader == "" || e.obsLeader == e.c.id || !now.Before(e.obsUntil) {
		return ""
	}
	if p := e.c.peers.get(e.obsLeader); p == nil || p.state != StateAlive {
		return ""
	}
	return e.obsLeader
}

// updateLocked queues events when the known leader changed.
func (e *LeaderElection) updateLocked(now time.Time) {
	cur := e.currentLocked(now)
	old := e.lastLeader
	if cur == old {
		return
	}
	e.lastLeader = cur
	self := e.c.id
	if old == self {
		e.emit(EventSteppedDown, self)
	}
	if old != "" {
		e.emit(EventLost, old)
	}
	if cur != "" {
		e.emit(EventElected, cur)
	}
	if cur == self {
		e.emit(EventBecameLeader, self)
	}
}

// emit queues the handlers of one event for Dispatch.
func (e *LeaderElection) emit(kind, nodeID string) {
	e.c.queue.push(event{kind: evCall, fn: func() {
		e.mu.Lock()
		fns := slices.Clone(e.handlers[kind])
		e.mu.Unlock()
		for _, fn := range fns {
			e.c.safeCall(func() { fn(kind, nodeID) })
		}
	}}, pushForce)
}

// IsLeader reports whether this node is the leader now.
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
	id := e.currentLocked(now)
	return id, id != ""
}

// HasLeader reports whether a leader is known to this node.
func (e *LeaderElection) HasLeader() bool {
	_, ok := e.GetLeaderID()
	return ok
}

// SendToPeers sends payload to every alive eligible node but this one.
func (e *LeaderElection) SendToPeers(msgType int, payload any, reliable bool) error {
	return e.c.sendMany(msgType, payload, reliable, "", func(p *peerInfo) bool {
		return matchCriteria(e.criteria, e.c.meta.valuesOf(p.id))
	})
}

// onAck records a vote for one of our claims.
func (e *LeaderElection) onAck(from string, seq uint64, granted bool) {
	e.mu.Lock()
	sentAt, ok := e.sentAt[seq]
	if !e.claiming || !ok || !granted {
		e.mu.Unlock()
		return
	}
	if sentAt.After(e.acks[from]) {
		e.acks[from] = sentAt
	}
	now := time.Now()
	was := e.lastLeader == e.c.id
	e.updateLocked(now)
	send := func() {}
	if !was && e.lastLeader == e.c.id {
		send = e.claimLocked(now) // announce at once rather than next tick
	}
	e.mu.Unlock()
	send()
}

// observeClaim notes a claim from another node.
func (e *LeaderElection) observeClaim(from string, leader bool, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if e.heard != nil {
		e.heard[from] = now
	}
	switch {
	case leader:
		e.obsLeader, e.obsUntil = from, now.Add(d)
	case from == e.obsLeader:
		e.obsLeader = ""
	}
	e.updateLocked(now)
}

// observeResign notes that a node gave up its claim.
func (e *LeaderElection) observeResign(from string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.heard, from)
	if from == e.obsLeader {
		e.obsLeader = ""
	}
	e.updateLocked(time.Now())
}

// grantVote gives this node's vote in election key to who for d, unless
// it is held by another node whose grant has not expired.
func (c *Cluster) grantVote(key, who string, d time.Duration, now time.Time) bool {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	if c.x.grants == nil {
		c.x.grants = map[string]*grant{}
	}
	g := c.x.grants[key]
	if g != nil && g.holder != who && now.Before(g.until) {
		return false
	}
	c.x.grants[key] = &grant{holder: who, until: now.Add(d)}
	return true
}

// releaseVote frees the vote in election key if who holds it.
func (c *Cluster) releaseVote(key, who string) {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	if g := c.x.grants[key]; g != nil && g.holder == who {
		delete(c.x.grants, key)
	}
}

// electionsFor returns the running elections of key on this node.
func (c *Cluster) electionsFor(key string) []*LeaderElection {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	return slices.Clone(c.x.elections[key])
}

// maxClaimTimeout bounds the lease a claim can ask for.
const maxClaimTimeout = time.Hour

// receiveElection handles claims, votes and resignations.
func (c *Cluster) receiveElection(e *envelope) {
	c.refreshIfStale()
	p := c.peers.get(e.sender)
	if p == nil || e.sender == c.id {
		return // not a member
	}
	r := reader{b: e.payload}
	key := r.string()
	switch e.msgType {
	case msgElectClaim:
		seq := r.uvarint()
		ms := r.uvarint()
		flag := r.bytes(1)
		if r.err != nil || ms == 0 || ms > uint64(maxClaimTimeout/time.Millisecond) {
			c.stats.decodeErrors.Add(1)
			return
		}
		d := time.Duration(ms) * time.Millisecond
		granted := c.grantVote(key, e.sender, d, time.Now())
		ack := appendString(nil, key)
		ack = binary.AppendUvarint(ack, seq)
		if granted {
			ack = append(ack, 1)
		} else {
			ack = append(ack, 0)
		}
		c.sendControl(p, msgElectAck, ack)
		for _, el := range c.electionsFor(key) {
			el.observeClaim(e.sender, flag[0] == 1, d)
		}
	case msgElectAck:
		seq := r.uvarint()
		g := r.bytes(1)
		if r.err != nil {
			c.stats.decodeErrors.Add(1)
			return
		}
		for _, el := range c.electionsFor(key) {
			el.onAck(e.sender, seq, g[0] == 1)
		}
	case msgElectResign:
		if r.err != nil {
			c.stats.decodeErrors.Add(1)
			return
		}
		c.releaseVote(key, e.sender)
		for _, el := range c.electionsFor(key) {
			el.observeResign(e.sender)
		}
	}
}

// sendControl sends a small internal message to p as one datagram; it is
// repeated by its protocol, so a loss only delays.
func (c *Cluster) sendControl(p *peerInfo, msgType int, body []byte) {
	if !c.running() || c.left.Load() {
		return
	}
	env := encodeEnvelope(&envelope{msgType: msgType, sender: c.id, payload: body}, c.tokenKey)
	if err := c.ml.SendBestEffort(p.mlNode(), env); err != nil {
		c.log.Debug("control message not sent", "peer", p.id, "err", err)
	}
}

// sendControlAll sends a control message to every alive peer.
func (c *Cluster) sendControlAll(msgType int, body []byte) {
	for _, p := range c.alivePeers(nil) {
		c.sendControl(p, msgType, body)
	}
}
