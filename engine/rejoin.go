package engine

import (
	"slices"
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

// rejoinLoop watches the peer table for dead peers and periodically joins
// their addresses again. The table is watched at the scanner's pace so that
// a peer dead for less than GossipToTheDeadTime is still noticed before
// memberlist forgets it; the joins themselves run once per push/pull interval.
func (c *Cluster) rejoinLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.cfg.scanInterval)
	defer tick.Stop()
	// Rejoin at the pace memberlist itself reconciles state: push/pull.
	interval := c.pushPullEvery
	lost := make(map[string]lostPeer)
	last := time.Now()
	for {
		select {
		case <-c.stopCh:
			return
		case <-tick.C:
		}
		now := time.Now()
		c.trackLost(lost, now)
		if len(lost) == 0 || now.Sub(last) < interval || c.left.Load() || c.leaving.Load() {
			continue
		}
		last = now
		c.rejoinLost(lost)
	}
}

// trackLost adds newly dead peers to lost and removes those that are alive
// again, left gracefully, or have been away longer than rejoinWindow.
func (c *Cluster) trackLost(lost map[string]lostPeer, now time.Time) {
	c.peers.mu.RLock()
	for id, p := range c.peers.nodes {
		if id == c.id {
			continue
		}
		switch p.state {
		case StateDead:
			if _, ok := lost[id]; !ok {
				lost[id] = lostPeer{id: id, addr: p.addr, since: now}
			}
		case StateAlive, StateLeaving:
			delete(lost, id)
		}
	}
	c.peers.mu.RUnlock()
	for id, lp := range lost {
		if now.Sub(lp.since) > rejoinWindow {
			delete(lost, id)
		}
	}
	if len(lost) > maxLostPeers {
		all := make([]lostPeer, 0, len(lost))
		for _, lp := range lost {
			all = append(all, lp)
		}
		slices.SortFunc(all, func(a, b lostPeer) int { return a.since.Compare(b.since) })
		for _, lp := range all[:len(all)-maxLostPeers] {
			delete(lost, lp.id)
		}
	}
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
			c.peers.stale.Store(true)
			taken[lp.addr] = true
			continue
		}
		c.log.Debug("rejoin failed", "peer", id, "addr", lp.addr, "err", err)
	}
}
