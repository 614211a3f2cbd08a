package engine

import (
	"slices"
	"sync"
	"time"
)

// Healing after a partition.
//
// When a partition splits the cluster, each side declares the other dead.
// memberlist only talks to dead nodes for GossipToTheDeadTime (the push/pull
// interval of the profile) and only when it has broadcasts queued, and then
// forgets them entirely, addresses included. Once the cut heals nothing would
// ever bring the two sides back together: each side is a healthy cluster of
// its own. The rejoin loop fixes that. It remembers the address of every
// peer it has seen dead (not those that left gracefully) and, once per
// push/pull interval, joins each such address again, which runs a full
// state exchange and merges the two views. A peer that comes back alive is
// forgotten; one that stays away is given up on after rejoinWindow.
//
// A rejoin is skipped while another alive member holds the lost peer's
// address (the address was reused by a node we already know), and the
// admission rules (bearer token, app version) apply to the joined node as to
// any other. Nothing is rejoined once this node has left.

const (
	// rejoinWindow is how long a dead peer's address is retried: long
	// enough for any partition an operator would expect to heal by itself.
	rejoinWindow = time.Hour
	// maxLostPeers bounds the remembered addresses; beyond it the oldest
	// losses are dropped first.
	maxLostPeers = 1024
)

// lostPeer is a peer last seen dead, and where it was.
type lostPeer struct {
	id, addr string
	since    time.Time
}

// lostPeers is the set of peers last seen dead, kept by noteLost as the
// peer table changes.
type lostPeers struct {
	mu sync.Mutex
	m  map[string]lostPeer
}

// noteLost records a peer's new state (p nil: memberlist forgot it, which
// is when the address matters most, so it stays listed).
func (c *Cluster) noteLost(id string, p *peerInfo) {
	if p == nil {
		return
	}
	l := &c.lost
	l.mu.Lock()
	defer l.mu.Unlock()
	switch p.state {
	case StateDead:
		if _, ok := l.m[id]; !ok {
			if l.m == nil {
				l.m = make(map[string]lostPeer)
			}
			l.m[id] = lostPeer{id: id, addr: p.addr, since: time.Now()}
		}
	case StateAlive, StateLeaving:
		delete(l.m, id)
	}
}

// rejoinLoop joins the addresses of lost peers again, at the pace
// memberlist itself reconciles state: once per push/pull interval.
func (c *Cluster) rejoinLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.pushPullEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.stopCh:
			return
		case <-tick.C:
		}
		lost := c.pruneLost(time.Now())
		if len(lost) == 0 || c.left.Load() || c.leaving.Load() {
			continue
		}
		c.rejoinLost(lost)
	}
}

// pruneLost drops peers away longer than rejoinWindow, keeps at most
// maxLostPeers (the most recent), and returns a copy of the set.
func (c *Cluster) pruneLost(now time.Time) map[string]lostPeer {
	l := &c.lost
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, lp := range l.m {
		if now.Sub(lp.since) > rejoinWindow {
			delete(l.m, id)
		}
	}
	if len(l.m) > maxLostPeers {
		all := make([]lostPeer, 0, len(l.m))
		for _, lp := range l.m {
			all = append(all, lp)
		}
		slices.SortFunc(all, func(a, b lostPeer) int { return a.since.Compare(b.since) })
		for _, lp := range all[:len(all)-maxLostPeers] {
			delete(l.m, lp.id)
		}
	}
	out := make(map[string]lostPeer, len(l.m))
	for id, lp := range l.m {
		out[id] = lp
	}
	return out
}

// rejoinLost joins each lost peer's address once, one at a time so that
// Stop never waits for more than one dial.
func (c *Cluster) rejoinLost(lost map[string]lostPeer) {
	taken := make(map[string]bool)
	for _, p := range c.alivePeers(nil) {
		taken[p.addr] = true
	}
	ids := make([]string, 0, len(lost))
	for id := range lost {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		select {
		case <-c.stopCh:
			return
		default:
		}
		lp := lost[id]
		if taken[lp.addr] {
			continue
		}
		n, err := c.ml.Join([]string{lp.addr})
		if n > 0 {
			c.log.Info("rejoined a peer lost as dead", "peer", id, "addr", lp.addr)
			taken[lp.addr] = true
			continue
		}
		c.log.Debug("rejoin failed", "peer", id, "addr", lp.addr, "err", err)
	}
}
