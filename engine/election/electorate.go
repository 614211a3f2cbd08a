package election

import (
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/engine/groups"
)

// sizeSeen is the electorate size a voter reported, and when.
type sizeSeen struct {
	size int
	at   time.Time
}

// refreshElectorateLocked updates the electorate from the node list and
// returns the alive eligible ids (this node included when eligible).
//
// An alive eligible node is (re)added with the time it was seen. A node
// that left gracefully, or is alive but no longer eligible, is dropped at
// once. A suspect or dead eligible node that memberlist still lists is
// added if unknown (a node that joined during a partition learns of the
// other side that way). Members not seen alive for the forget window are
// dropped only while this node sees a strict majority of its electorate
// alive: a minority can never shrink its electorate into a majority.
func (e *Election) refreshElectorateLocked(nodes []engine.Node, now time.Time) []string {
	var alive []string
	listed := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		listed[n.ID] = true
		eligible := groups.Counted(e.criteria, n)
		switch {
		case n.State == string(engine.StateAlive) && eligible:
			e.known[n.ID] = now
			delete(e.forgotten, n.ID)
			alive = append(alive, n.ID)
		case n.State == string(engine.StateLeaving) || n.State == string(engine.StateAlive):
			delete(e.known, n.ID) // left, or no longer eligible
			delete(e.forgotten, n.ID)
		case eligible && !e.forgotten[n.ID]:
			if _, ok := e.known[n.ID]; !ok {
				e.known[n.ID] = now
			}
		}
	}
	for id := range e.forgotten {
		if !listed[id] {
			delete(e.forgotten, id) // nothing left to re-add it from
		}
	}
	if len(alive)*2 > len(e.known) {
		for id, seen := range e.known {
			if now.Sub(seen) > e.forget {
				delete(e.known, id)
				e.forgotten[id] = true
			}
		}
	}
	for id, s := range e.peerSize {
		if now.Sub(s.at) > e.timeout {
			delete(e.peerSize, id)
		}
	}
	return alive
}

// sizeLocked is the electorate size majorities are counted against: this
// node's electorate, or a larger one a voter reported within the last
// lease. A node whose view is smaller (it joined during a partition, or
// forgot a member before the others) so needs the votes a majority of the
// larger electorate would.
func (e *Election) sizeLocked() int {
	n := len(e.known)
	for _, s := range e.peerSize {
		n = max(n, s.size)
	}
	return n
}

// electorateSize is the size of this node's own electorate.
func (e *Election) electorateSize() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.known)
}
