package engine

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// The peer table is the engine's view of memberlist's members, kept up to
// date change by change: memberlist's event delegate (events.go) reports
// joins, metadata updates and departures, and the suspect watch
// (peerwatch.go) reports suspicion, which memberlist has no event for. Each
// change is applied to the table at once, while memberlist still holds its
// node lock, so the table never lags behind memberlist (a node just joined
// can be messaged straight away) and changes apply in memberlist's order.
// What a change sets off (state handlers, reliable windows, repairs) may
// block or take other locks, so it is queued and run in the same order by
// drainChanges, outside memberlist's lock.
//
// Lock order: memberlist's node lock, then peerTable.mu. Nothing holds
// peerTable.mu while calling into memberlist.

// peerInfo is what the engine knows about one node from memberlist. An
// entry is never modified once published: a change replaces it (clone).
//
// Every node holds one per peer, so the record is kept to one allocation
// besides the address: the decoded header lives inside it, and the time of
// the last state change is a monotonic clock reading.
type peerInfo struct {
	id     string
	state  State
	addr   string // "host:port", the reliable streams' key
	ip     net.IP
	header *peerHeader   // nil when the header did not parse, else &hdr
	since  time.Duration // monoClock when ml last changed: dead entries expire from it
	port   uint16
	ml     mlState
	hdr    peerHeader
}

// mlState is a memberlist.NodeStateType (0 to 3) in one byte.
type mlState uint8

func (s mlState) get() memberlist.NodeStateType { return memberlist.NodeStateType(s) }

// peerHeader is what the table keeps of a peer's node header: the join
// proof is checked on admission (delegate.go) and not kept.
type peerHeader struct {
	instance    uint64
	metaVersion uint64
	appVersion  string
	tags        []string
	leaving     bool
	emptyMeta   bool // the map at metaVersion is empty
	observer    bool // the node only watches
}

// clone returns a copy of p to modify and publish in its place; its header
// points into the copy, so the replaced record is not kept alive by it.
func (p *peerInfo) clone() *peerInfo {
	q := *p
	if p.header != nil {
		q.header = &q.hdr
	}
	return &q
}

// setHeader stores the decoded header h (nil when it did not parse). The
// tags and app version are taken from like (the peer's previous record,
// or the last header stored) when they are equal, as they nearly always
// are, so a table of peers with the same tags holds them once.
func (p *peerInfo) setHeader(h *nodeHeader, like *peerHeader) {
	if h == nil {
		p.header, p.hdr = nil, peerHeader{}
		return
	}
	p.hdr = peerHeader{instance: h.instance, metaVersion: h.metaVersion, appVersion: h.appVersion, tags: h.tags,
		leaving: h.leaving, emptyMeta: h.emptyMeta, observer: h.observer}
	if like != nil {
		if like.appVersion == h.appVersion {
			p.hdr.appVersion = like.appVersion
		}
		if len(h.tags) > 0 && slices.Equal(like.tags, h.tags) {
			p.hdr.tags = like.tags
		}
	}
	p.header = &p.hdr
}

// peerChange is one change of the table: old is nil for a node first seen,
// now is nil for a node memberlist forgot.
type peerChange struct {
	old, now *peerInfo
}

// peerTable is the engine's copy of memberlist's node states and headers.
type peerTable struct {
	mu       sync.RWMutex
	nodes    map[string]*peerInfo
	alive    atomic.Int32 // alive nodes, self included
	suspects int          // entries in StateSuspect
	gone     int          // entries memberlist holds as dead or left
	pending  []peerChange // applied but not yet drained, in order
	// aliveList caches the alive peers (self excluded) sorted by id; every
	// change of the table drops it and the next reader rebuilds it, so a
	// send does not walk and sort the table per message.
	aliveList atomic.Pointer[[]*peerInfo]
	closed    bool        // the node stopped: changes are no longer drained
	lastHdr   *peerHeader // the header stored last, whose tags the next may share

	layout *mlLayout // set at Start before memberlist.Create
	self   string

	drainMu  sync.Mutex    // one drainer at a time keeps changes in order
	kick     chan struct{} // wakes the peer loop: changes are pending
	recheck  atomic.Bool   // a suspect may have been cleared: check now
	metaDirt atomic.Bool   // a header changed: metadata may be stale
}

func (t *peerTable) init(self string) {
	t.nodes = make(map[string]*peerInfo)
	t.kick = make(chan struct{}, 1)
	t.self = self
}

// get returns the peer with id, or nil.
func (t *peerTable) get(id string) *peerInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.nodes[id]
}

// wake asks the peer loop to drain; it never blocks.
func (t *peerTable) wake() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// stateOf maps memberlist's state (and our leaving flag) to ours.
func stateOf(ml memberlist.NodeStateType, h *peerHeader) State {
	switch ml {
	case memberlist.StateAlive:
		if h != nil && h.leaving {
			return StateLeaving
		}
		return StateAlive
	case memberlist.StateSuspect:
		return StateSuspect
	case memberlist.StateLeft:
		return StateLeaving
	default:
		if h != nil && h.leaving {
			return StateLeaving
		}
		return StateDead
	}
}

// applyNode records what an event callback reports about n (its address,
// header and memberlist state). memberlist holds its node lock.
func (t *peerTable) applyNode(n *memberlist.Node, ml memberlist.NodeStateType) {
	h, _ := decodeHeader(n.Meta)
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.nodes[n.Name]
	p := &peerInfo{id: n.Name, port: n.Port, ml: mlState(ml)}
	if old != nil && old.port == n.Port && slices.Equal(old.ip, n.Addr) {
		p.ip, p.addr = old.ip, old.addr // unchanged: share, do not reallocate
	} else {
		p.ip = append(net.IP(nil), n.Addr...)
		p.addr = joinHostPort(p.ip.String(), p.port)
	}
	like := t.lastHdr
	if old != nil && old.header != nil {
		like = old.header
	}
	p.setHeader(h, like)
	if p.header != nil {
		t.lastHdr = p.header
	}
	t.putLocked(p)
}

// applyState records a new memberlist state for a known node (the suspect
// watch); memberlist holds its node lock, at least for reading.
func (t *peerTable) applyState(id string, ml memberlist.NodeStateType) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.nodes[id]
	if old == nil || old.ml.get() == ml {
		return
	}
	p := old.clone()
	p.ml = mlState(ml)
	t.putLocked(p)
}

// putLocked publishes p and queues the change when it is one a listener
// hears of: a new state, or a restart (a new instance) of an alive node.
// A node first seen already gone is recorded without a report.
func (t *peerTable) putLocked(p *peerInfo) {
	old := t.nodes[p.id]
	p.state = stateOf(p.ml.get(), p.header)
	if p.id == t.self {
		p.state = StateAlive
	}
	p.since = monoClock()
	if old != nil && old.ml == p.ml {
		p.since = old.since
	}
	t.count(old, -1)
	t.count(p, +1)
	t.nodes[p.id] = p
	t.aliveList.Store(nil)
	if p.header != nil && (old == nil || old.header == nil || old.header.metaVersion != p.header.metaVersion) {
		t.metaDirt.Store(true)
		t.wake()
	}
	if p.id == t.self || t.closed {
		return
	}
	switch {
	case old == nil && p.state != StateAlive:
		return
	case old == nil, old.state != p.state, p.state == StateAlive && restarted(old, p):
		t.pending = append(t.pending, peerChange{old: old, now: p})
		t.wake()
	}
}

// removeLocked drops a node memberlist forgot.
func (t *peerTable) removeLocked(id string) {
	old := t.nodes[id]
	if old == nil {
		return
	}
	t.count(old, -1)
	delete(t.nodes, id)
	t.aliveList.Store(nil)
	if !t.closed && id != t.self {
		t.pending = append(t.pending, peerChange{old: old})
		t.wake()
	}
}

// count adjusts the counters for p entering (+1) or leaving (-1) the table.
func (t *peerTable) count(p *peerInfo, d int) {
	if p == nil {
		return
	}
	if p.state == StateAlive {
		t.alive.Add(int32(d))
	}
	if p.state == StateSuspect {
		t.suspects += d
	}
	if ml := p.ml.get(); ml == memberlist.StateDead || ml == memberlist.StateLeft {
		t.gone += d
	}
}

// restarted reports whether p is a new run (instance) of the node old was.
func restarted(old, p *peerInfo) bool {
	return old != nil && old.header != nil && p.header != nil && old.header.instance != p.header.instance
}

// close stops queueing changes; the node is stopping.
func (t *peerTable) close() {
	t.mu.Lock()
	t.closed = true
	t.pending = nil
	t.mu.Unlock()
}

// drainChanges runs what the pending changes set off, in order. Any
// goroutine may call it (the peer loop, and Join and the repair loop so
// that what they taught takes effect before they return).
func (c *Cluster) drainChanges() {
	t := &c.peers
	t.drainMu.Lock()
	defer t.drainMu.Unlock()
	for {
		t.mu.Lock()
		batch := t.pending
		t.pending = nil
		t.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, ch := range batch {
			c.peerChanged(ch)
		}
	}
}

// peerChanged is the one place where a change of a peer fans out: the
// state-change event for listeners, reliable windows, formation repair,
// partition healing and per-peer bookkeeping.
func (c *Cluster) peerChanged(ch peerChange) {
	old, p := ch.old, ch.now
	if p == nil {
		c.meta.forget(old.id)
		c.receiver.forget(old.id)
		c.senders.fail(c, old.id, fmt.Errorf("%w: node %q was removed from the cluster; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, old.id), true)
		c.noteLost(old.id, nil)
		return
	}
	c.log.Debug("node state", "peer", p.id, "state", p.state)
	c.noticeJoin(old, p) // formation.go: repairs news of joins that gossip lost
	c.noteLost(p.id, p)  // rejoin.go: heals partitions
	// Reliable windows (reliable.go): a suspect or dead node keeps its
	// window (suspicion is often refuted, and a node declared dead can
	// come back alive), which is resent when it is alive again. A node
	// that leaves or comes back as a new run fails it.
	switch {
	case p.state == StateLeaving:
		c.senders.fail(c, p.id, fmt.Errorf("%w: node %q left; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, p.id), false)
	case p.state == StateAlive && restarted(old, p):
		c.senders.fail(c, p.id, fmt.Errorf("%w: node %q restarted; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, p.id), false)
	case p.state == StateAlive:
		c.senders.kickPeer(c, p.id)
	}
	c.queueState(p.id, string(p.state))
}

// queueState queues a state-change event when someone listens for them.
func (c *Cluster) queueState(id, state string) {
	c.handlersMu.RLock()
	n := len(c.stateHandlers)
	c.handlersMu.RUnlock()
	if n > 0 {
		c.queue.push(event{kind: evState, nodeID: id, state: state}, pushForce)
	}
}
