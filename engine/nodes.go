package engine

import (
	"net"
	"slices"
	"strconv"
	"time"
)

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
	n := max(int(c.peers.alive.Load()), 1)
	if c.localState() != StateAlive {
		n--
	}
	return n
}

// alivePeers returns the alive peers (not self) accepted by keep, sorted
// by id. The slice is shared when keep is nil: callers must not modify it.
func (c *Cluster) alivePeers(keep func(*peerInfo) bool) []*peerInfo {
	all := c.peers.sortedAlive()
	if keep == nil {
		return all
	}
	var out []*peerInfo
	for _, p := range all {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// sortedAlive returns the cached alive list, rebuilding it after a change.
// The list is built and published under the read lock, which every change
// excludes, so a list published is never older than the table.
func (t *peerTable) sortedAlive() []*peerInfo {
	if l := t.aliveList.Load(); l != nil {
		return *l
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*peerInfo, 0, len(t.nodes))
	for id, p := range t.nodes {
		if id != t.self && p.state == StateAlive {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *peerInfo) int { return cmpString(a.id, b.id) })
	t.aliveList.Store(&out)
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
