package engine

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// The peer loop drains the peer table's changes (peertable.go) and, on a
// slow tick, does what memberlist announces no event for:
//
//   - suspicion: memberlist marks a node suspect, or clears it of suspicion
//     with its metadata unchanged, silently. The tick reads which nodes are
//     under suspicion now (memberlist's suspicion-timer map, empty unless
//     something is wrong, so the usual check is one map length) and the
//     states of the nodes the table holds as suspect (mlstate.go). The tick
//     (a quarter of SuspicionMult probe intervals, memberlist's shortest
//     suspicion, and at most one probe interval: 1 s on LAN) sees every
//     suspicion unless a dead message overtakes it. An alive message about a
//     suspect (delegate NotifyAlive) checks at once: refutation is reported
//     without waiting for the tick.
//   - forgetting: memberlist drops a dead node GossipToTheDeadTime after its
//     death without an event. Once that long has passed, the tick looks the
//     node up and removes it when memberlist no longer has it.
//   - metadata pulls, at once when a header announces a new version and
//     then each tick while a version is still missing, and the stall
//     warning; both return at once when there is nothing to do.
//
// An idle cluster with no suspect, no dead node and no queued event costs
// one short check per tick.

// peerLoop runs until Stop.
func (c *Cluster) peerLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.watchEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stopCh:
			return
		case <-c.peers.kick:
			if c.peers.recheck.Swap(false) {
				c.watchPeers(time.Now())
			}
		case now := <-t.C:
			c.watchPeers(now)
			c.checkStall()
		}
		c.drainChanges()
		c.pullIfStale()
	}
}

// watchPeers applies suspicion changes and forgets dead nodes memberlist
// has dropped.
func (c *Cluster) watchPeers(now time.Time) {
	t := &c.peers
	c.mlr.watch(func(suspects []string, mlState func(string) memberlist.NodeStateType) {
		t.mu.RLock()
		quiet := len(suspects) == 0 && t.suspects == 0 && t.gone == 0
		t.mu.RUnlock()
		if quiet {
			return
		}
		for _, id := range suspects {
			t.applyState(id, memberlist.StateSuspect)
		}
		t.mu.RLock()
		var check []string
		for id, p := range t.nodes {
			if p.state == StateSuspect || (p.ml >= memberlist.StateDead && now.Sub(p.since) > c.forgetAfter) {
				check = append(check, id)
			}
		}
		t.mu.RUnlock()
		for _, id := range check {
			switch st := mlState(id); st {
			case mlStateMissing:
				t.mu.Lock()
				t.removeLocked(id)
				t.mu.Unlock()
			default:
				t.applyState(id, st)
			}
		}
	})
}

// pullIfStale pulls metadata when a header announced a version we may not
// hold, and keeps doing so while something is still to fetch.
func (c *Cluster) pullIfStale() {
	if !c.peers.metaDirt.Swap(false) && !c.meta.pending() {
		return
	}
	c.pullStaleMetadata()
	if c.metaBehind() {
		c.peers.metaDirt.Store(true)
	}
}

// metaBehind reports whether an alive peer announces a newer metadata
// version than the one held for it.
func (c *Cluster) metaBehind() bool {
	for _, p := range c.alivePeers(nil) {
		if p.header == nil {
			continue
		}
		c.meta.mu.RLock()
		e := c.meta.remote[p.id]
		c.meta.mu.RUnlock()
		if e == nil || e.version < p.header.metaVersion {
			return true
		}
	}
	return false
}

// pending reports whether metadata entries are waiting to be fetched by
// digest (metadata_digest.go).
func (s *metaStore) pending() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.want) > 0
}
