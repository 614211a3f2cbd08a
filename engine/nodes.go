package engine

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// peerInfo is what the engine knows about one node from memberlist.
type peerInfo struct {
	id     string
	ip     net.IP
	port   uint16
	addr   string
	state  State
	header *nodeHeader // nil when the header did not parse
}

// peerTable is the engine's copy of memberlist's node table, refreshed by
// the scanner. It exists so that delegates and Dispatch can look nodes up
// without touching memberlist's lock.
type peerTable struct {
	updateMu sync.Mutex // serialises update, which scanner and callers both run
	mu       sync.RWMutex
	nodes    map[string]*peerInfo
	alive    atomic.Int32 // alive nodes, self included
	stale    atomic.Bool  // membership changed since the last update
	kick     chan struct{}
}

func (t *peerTable) init() {
	t.nodes = make(map[string]*peerInfo)
	t.kick = make(chan struct{}, 1)
}

// markStale flags the table for refresh and wakes the scanner, so state
// handlers hear of a join or failure at once rather than at the next scan
// tick. It never blocks: memberlist calls it under its node lock.
func (t *peerTable) markStale() {
	t.stale.Store(true)
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// get returns the peer with id, or nil.
func (t *peerTable) get(id string) *peerInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.nodes[id]
}

// stateOf maps memberlist's state (and our leaving flag) to ours.
func stateOf(n mlNode, h *nodeHeader) State {
	switch n.State {
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

// refresh takes a snapshot of memberlist's table and applies it. Snapshot
// and update happen under one lock so that a slower caller can never apply
// an older snapshot over a newer one (which would report states flapping).
func (t *peerTable) refresh(c *Cluster) {
	t.updateMu.Lock()
	defer t.updateMu.Unlock()
	t.update(c, c.mlr.snapshot())
}

// update replaces the table with snap and queues a state-change event for
// every peer whose state differs from the previous scan. Polling is used
// because memberlist has no suspect event and its join/leave events run
// under its node lock; a scan every few tens of milliseconds sees every
// state that lasts longer than that, in order, from one goroutine.
func (t *peerTable) update(c *Cluster, snap []mlNode) {
	next := make(map[string]*peerInfo, len(snap))
	alive := int32(0)
	for _, n := range snap {
		h, _ := decodeHeader(n.Meta)
		p := &peerInfo{id: n.Name, ip: n.Addr, port: n.Port, addr: joinHostPort(n.Addr.String(), n.Port), header: h}
		p.state = stateOf(n, h)
		if n.Name == c.id {
			p.state = StateAlive
		}
		if p.state == StateAlive {
			alive++
		}
		next[n.Name] = p
	}
	t.mu.Lock()
	prev := t.nodes
	t.nodes = next
	t.alive.Store(alive)
	t.mu.Unlock()

	var changed []*peerInfo
	for id, p := range next {
		if id == c.id {
			continue
		}
		old := prev[id]
		if old == nil && p.state != StateAlive {
			continue // first seen already gone: nothing to report
		}
		if old == nil || old.state != p.state ||
			(p.header != nil && old.header != nil && p.header.instance != old.header.instance && p.state == StateAlive) {
			changed = append(changed, p)
		}
	}
	slices.SortFunc(changed, func(a, b *peerInfo) int { return cmpString(a.id, b.id) })
	c.noticeJoins(prev, changed) // formation.go: repairs news of joins that gossip lost
	for _, p := range changed {
		old := prev[p.id]
		c.log.Debug("node state", "peer", p.id, "state", p.state)
		// Reliable windows (reliable.go): a suspect or dead node keeps its
		// window (suspicion is often refuted, and a node declared dead can
		// come back alive), which is resent when it is alive again. A node
		// that leaves or comes back as a new run fails it.
		switch {
		case p.state == StateLeaving:
			c.senders.fail(c, p.id, fmt.Errorf("%w: node %q left; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, p.id), false)
		case p.state == StateAlive && old != nil && old.header != nil && p.header != nil && old.header.instance != p.header.instance:
			c.senders.fail(c, p.id, fmt.Errorf("%w: node %q restarted; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, p.id), false)
		case p.state == StateAlive:
			c.senders.kickPeer(c, p.id)
		}
		c.queueState(p.id, string(p.state))
	}
	for id := range prev {
		if _, ok := next[id]; !ok {
			c.meta.forget(id)
			c.receiver.forget(id)
			c.senders.fail(c, id, fmt.Errorf("%w: node %q was removed from the cluster; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, id), true)
		}
	}
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

// scanLoop refreshes the peer table and pulls metadata that peers announce
// as newer than what we hold.
func (c *Cluster) scanLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.scanInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stopCh:
			return
		case <-c.peers.kick:
			c.refreshIfStale()
			continue
		case <-t.C:
		}
		c.peers.refresh(c)
		c.pullStaleMetadata()
		c.checkStall()
	}
}

// headerLoop re-announces our node header (memberlist UpdateNode) whenever
// the metadata version changes. UpdateNode blocks until the update has been
// broadcast, so it runs here, coalescing bursts of changes into one update.
func (c *Cluster) headerLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stopCh:
			return
		case <-c.kickHdr:
		}
		if c.left.Load() || c.leaving.Load() {
			continue
		}
		if err := c.ml.UpdateNode(time.Second); err != nil {
			c.log.Debug("header update not confirmed", "err", err)
		}
	}
}

// kickHeader asks headerLoop to re-announce the header.
func (c *Cluster) kickHeader() {
	select {
	case c.kickHdr <- struct{}{}:
	default:
	}
}

// localHeader is the header this node announces.
func (c *Cluster) localHeader() *nodeHeader {
	version, empty := c.meta.localVersion()
	return &nodeHeader{
		leaving:     c.leaving.Load(),
		instance:    c.instance,
		metaVersion: version,
		emptyMeta:   empty,
		appVersion:  c.cfg.AppVersion,
		proof:       c.proof,
		tags:        c.cfg.Tags,
		observer:    c.cfg.Observer,
	}
}

// snapshotOf builds the public Node for p.
func (c *Cluster) snapshotOf(p *peerInfo) Node {
	n := Node{ID: p.id, Addr: p.addr, State: string(p.state)}
	if p.header != nil {
		n.Tags = append([]string(nil), p.header.tags...)
		n.AppVersion = p.header.appVersion
		n.Observer = p.header.observer
	}
	n.Metadata = c.meta.valuesOf(p.id)
	return n
}

// LocalNode returns this node.
func (c *Cluster) LocalNode() Node {
	return Node{
		ID:         c.id,
		Addr:       c.localAddr(),
		State:      string(c.localState()),
		Metadata:   c.AllMetadata(),
		Tags:       append([]string(nil), c.cfg.Tags...),
		AppVersion: c.cfg.AppVersion,
		Observer:   c.cfg.Observer,
	}
}

// localState is this node's own state, by its lifecycle: "dead" before
// Start and after a Stop without leaving (it takes part in nothing),
// "leaving" from Leave on (also once stopped, as its peers record it), and
// "alive" while running. NumAlive and AliveNodes count it only while alive.
func (c *Cluster) localState() State {
	switch {
	case c.left.Load() || c.leaving.Load():
		return StateLeaving
	case !c.running():
		return StateDead
	}
	return StateAlive
}

// localAddr is the advertised address, or the configured one before Start.
func (c *Cluster) localAddr() string {
	if c.advertise != "" && c.state.Load() != stateNew {
		return c.advertise
	}
	if c.cfg.AdvertiseAddr != "" {
		return c.cfg.AdvertiseAddr
	}
	return c.cfg.BindAddr
}

// senderSnapshot returns the sender of a delivered message as known now;
// an unknown sender still has its id.
func (c *Cluster) senderSnapshot(id string) Node {
	if id == c.id {
		return c.LocalNode()
	}
	if p := c.peers.get(id); p != nil {
		return c.snapshotOf(p)
	}
	return Node{ID: id, State: string(StateAlive), Metadata: c.meta.valuesOf(id)}
}

// Nodes returns every known node, this one included, sorted by id. Nodes
// that failed or left stay listed until memberlist forgets them.
func (c *Cluster) Nodes() []Node {
	return c.listNodes(false)
}

// AliveNodes returns the alive nodes, this one included, sorted by id.
func (c *Cluster) AliveNodes() []Node {
	return c.listNodes(true)
}

func (c *Cluster) listNodes(aliveOnly bool) []Node {
	local := c.LocalNode()
	if !c.running() {
		if aliveOnly {
			return []Node{}
		}
		return []Node{local}
	}
	c.refreshIfStale()
	c.peers.mu.RLock()
	ps := make([]*peerInfo, 0, len(c.peers.nodes))
	for id, p := range c.peers.nodes {
		if id == c.id || (aliveOnly && p.state != StateAlive) {
			continue
		}
		ps = append(ps, p)
	}
	c.peers.mu.RUnlock()
	out := make([]Node, 0, len(ps)+1)
	if !aliveOnly || local.State == string(StateAlive) {
		out = append(out, local)
	}
	for _, p := range ps {
		out = append(out, c.snapshotOf(p))
	}
	slices.SortFunc(out, func(a, b Node) int { return cmpString(a.ID, b.ID) })
	return out
}

// NumNodes is len(Nodes()), counted without building node snapshots.
func (c *Cluster) NumNodes() int {
	if !c.running() {
		return 1
	}
	c.refreshIfStale()
	c.peers.mu.RLock()
	defer c.peers.mu.RUnlock()
	n := len(c.peers.nodes)
	if _, ok := c.peers.nodes[c.id]; !ok {
		n++
	}
	return n
}

// NumAlive is len(AliveNodes()), read from the peer table's counter (which
// counts this node) so that polling it in a loop stays cheap.
func (c *Cluster) NumAlive() int {
	if !c.running() {
		return 0
	}
	c.refreshIfStale()
	n := max(int(c.peers.alive.Load()), 1)
	if c.localState() != StateAlive {
		n--
	}
	return n
}

// alivePeers returns the alive peers (not self) accepted by keep.
func (c *Cluster) alivePeers(keep func(*peerInfo) bool) []*peerInfo {
	c.refreshIfStale()
	c.peers.mu.RLock()
	defer c.peers.mu.RUnlock()
	var out []*peerInfo
	for id, p := range c.peers.nodes {
		if id != c.id && p.state == StateAlive && (keep == nil || keep(p)) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *peerInfo) int { return cmpString(a.id, b.id) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// joinHostPort formats an address the way peers dial it.
func joinHostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
