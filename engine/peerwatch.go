package engine

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// The peer loop drains the peer table's changes (peertable.go) and does
// what memberlist announces no event for:
//
//   - suspicion: memberlist marks a node suspect, or clears it of suspicion
//     with its metadata unchanged, silently. The watch reads which nodes are
//     under suspicion now (memberlist's suspicion-timer map, empty unless
//     something is wrong, so the usual check is one map length) and the
//     states of the nodes the table holds as suspect (mlstate.go). An alive
//     message about a suspect (delegate NotifyAlive) checks at once, so a
//     refutation is reported without delay.
//   - forgetting: memberlist drops a dead node GossipToTheDeadTime after its
//     death without an event. Once that long has passed, the watch looks
//     the node up and removes it when memberlist no longer has it.
//   - metadata pulls, at once when a header announces a new version and
//     then on each check while a version is still missing, and the stall
//     warning.
//
// The check is paced by memberlist's own failure detector rather than a
// timer of ours: every completed probe (PingDelegate.NotifyPingComplete,
// once per probe interval, on memberlist's probe goroutine with no lock
// held) runs the quick check inline and wakes the loop only when there is
// something to do. A node's suspicion lasts at least SuspicionMult probe
// intervals, so a check per probe sees it. When no probe completes (every
// peer is down or unreachable, which is when suspicions happen) a fallback
// timer of two probe intervals runs the check; completed probes push it
// back, so a healthy idle node wakes for nothing of its own.

// pingEvents is memberlist's PingDelegate: its only use is pacing the watch.
type pingEvents struct{ c *Cluster }

var _ memberlist.PingDelegate = pingEvents{}

func (pingEvents) AckPayload() []byte { return nil }

func (p pingEvents) NotifyPingComplete(*memberlist.Node, time.Duration, []byte) {
	p.c.quickWatch()
}

// quickWatch checks, without waking the peer loop, whether it has work:
// a suspicion to follow, a dead node to forget, metadata to pull. It also
// reports a handler stall.
func (c *Cluster) quickWatch() {
	if !c.running() {
		return
	}
	c.watchTimer.Reset(c.watchEvery)
	c.checkStall()
	t := &c.peers
	busy := t.metaDirt.Load() || c.meta.pending()
	if !busy {
		c.mlr.watch(func(suspects []string, _ func(string) memberlist.NodeStateType) {
			t.mu.RLock()
			busy = len(suspects) > 0 || t.suspects > 0 || t.gone > 0
			t.mu.RUnlock()
		})
	}
	if busy {
		t.recheck.Store(true)
		t.wake()
	}
}

// peerLoop runs until Stop.
func (c *Cluster) peerLoop() {
	defer c.wg.Done()
	defer c.watchTimer.Stop()
	for {
		select {
		case <-c.stopCh:
			return
		case <-c.peers.kick:
			if c.peers.recheck.Swap(false) {
				c.watchPeers(time.Now())
			}
		case now := <-c.watchTimer.C:
			c.watchTimer.Reset(c.watchEvery)
			c.watchPeers(now)
			c.checkStall()
			c.peers.metaDirt.Store(c.peers.metaDirt.Load() || c.meta.pending())
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
		mono := monoClock()
		t.mu.RLock()
		var check []string
		for id, p := range t.nodes {
			if p.state == StateSuspect || (p.ml.get() >= memberlist.StateDead && mono-p.since > c.forgetAfter) {
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
	if !c.peers.metaDirt.Swap(false) {
		return
	}
	c.pullStaleMetadata()
	if c.metaBehind() || c.meta.pending() {
		c.peers.metaDirt.Store(true)
	}
}

// metaBehind reports whether an alive peer announces a newer metadata
// version than the one held for it.
func (c *Cluster) metaBehind() bool {
	for _, p := range c.alivePeers(nil) {
		if p.header != nil && c.meta.behind(p) {
			return true
		}
	}
	return false
}

// behind reports whether the metadata held for p is older than the version
// p's header (which must be set) announces.
func (s *metaStore) behind(p *peerInfo) bool {
	s.mu.RLock()
	e := s.remote[p.id]
	s.mu.RUnlock()
	return e == nil || e.version < p.header.metaVersion
}

// pending reports whether metadata entries are waiting to be fetched by
// digest (metadata_digest.go).
func (s *metaStore) pending() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.want) > 0
}
