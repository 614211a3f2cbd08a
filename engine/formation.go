package engine

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Repairing cluster formation.
//
// memberlist announces a new member by gossip: the node that learns of it
// (the seed a joiner contacted) queues an alive message that is sent a few
// times (RetransmitMult × log10 N) to random members over UDP. When those
// datagrams are lost, which a join storm on a loaded host makes likely, the
// members that missed them learn of the joiner only at their next push/pull,
// 30 s later on the LAN profile (and longer in large clusters). The bench
// measured such stalls in a few rounds out of ten under CPU load.
//
// The engine repairs this without changing memberlist: shortly after this
// node joins, and shortly after its peer table learns of a node that joined,
// it runs one push/pull with a random alive member (memberlist's Join to an
// address already in the cluster is a full state exchange over TCP). Both
// sides end with the union of their views, and memberlist re-gossips every
// node that either side learnt from it, so a missed alive message is
// repaired within a few gossip periods instead of a push/pull period.
//
// A node cannot tell that it missed a message, so one repair is not always
// enough: a node keeps repairing, repairGap apart, until repairQuiet
// push/pulls in a row taught it nothing (each teaches the other side too,
// which then repairs by the same rule). That is an anti-entropy burst that
// follows news and dies out once views agree.
//
// Cost is kept flat: requests are coalesced (a repair waits until no newer
// request came for repairSettle, capped at repairMaxWait after the first
// one), repairs of one node are at least repairGap apart and at most
// repairBudget per push/pull period (beyond that memberlist's own push/pull
// is the next repair), and when no request is pending no goroutine or timer
// exists at all, so a stable membership costs nothing. A join storm costs
// each member three to six push/pulls (8 nodes, TestFormation*), against
// memberlist's own one per push/pull period.

// Repair timing in gossip periods (200 ms on the LAN profile).
const (
	// repairSettle: time after the last request; gossip normally finishes
	// spreading a join within a few periods, so a repair then only costs
	// when gossip has already failed.
	repairSettle = 5
	// repairMaxWait bounds how long a stream of requests postpones a repair.
	repairMaxWait = 20
	// repairGap is the least time between two repairs of one node.
	repairGap = 10
)

const (
	// repairQuiet ends a burst after this many repairs in a row that
	// taught this node nothing.
	repairQuiet = 3
	// repairBudget caps the repairs of one node per push/pull period.
	repairBudget = 8
)

// formation holds the pending repair of one node (zero value ready).
type formation struct {
	mu      sync.Mutex
	active  bool            // the repair goroutine exists
	first   time.Time       // first request not yet served; zero when none
	due     time.Time       // when the pending repair runs
	last    time.Time       // when the last repair ran
	quiet   int             // repairs in a row that taught nothing
	tried   map[string]bool // partners of the current burst
	window  time.Time       // start of the current budget window
	spent   int             // repairs run in the current budget window
	wake    chan struct{}   // tells the goroutine that due moved
	repairs atomic.Int64    // push/pulls run, for tests
}

// requestRepair schedules a push/pull with a random member, coalesced with
// any already pending: there is news (this node joined, or learnt of a
// join) that may have missed some members. It never blocks: the peer
// table's update calls it.
func (c *Cluster) requestRepair() {
	f := &c.form
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quiet, f.tried = 0, nil
	c.scheduleLocked(repairSettle)
	if f.active {
		select {
		case f.wake <- struct{}{}:
		default:
		}
		return
	}
	// Started under the sender lock with the running check, like the
	// sender goroutines, so that none starts once Stop waits for them.
	c.senders.mu.Lock()
	defer c.senders.mu.Unlock()
	if !c.running() {
		f.first = time.Time{}
		return
	}
	if f.wake == nil {
		f.wake = make(chan struct{}, 1)
	}
	f.active = true
	c.wg.Add(1)
	go c.repairLoop()
}

// scheduleLocked sets the pending repair settle gossip periods from now,
// within the coalescing, gap and budget limits; f.mu is held.
func (c *Cluster) scheduleLocked(settle time.Duration) {
	f := &c.form
	unit := max(c.gossipEvery, time.Millisecond)
	now := time.Now()
	if f.first.IsZero() {
		f.first = now
	}
	due := now.Add(settle * unit)
	if capped := f.first.Add(repairMaxWait * unit); capped.Before(due) {
		due = capped
	}
	if gap := f.last.Add(repairGap * unit); !f.last.IsZero() && gap.After(due) {
		due = gap
	}
	if end := f.window.Add(c.pushPullEvery); f.spent >= repairBudget && end.After(due) {
		due = end
	}
	f.due = due
}

// repairLoop waits for the pending repair's time, runs it, and exits when
// nothing more is pending.
func (c *Cluster) repairLoop() {
	defer c.wg.Done()
	f := &c.form
	for {
		f.mu.Lock()
		if f.first.IsZero() {
			f.active = false
			f.mu.Unlock()
			return
		}
		now := time.Now()
		wait := f.due.Sub(now)
		if wait <= 0 {
			f.first, f.last = time.Time{}, now
			if now.Sub(f.window) >= c.pushPullEvery {
				f.window, f.spent = now, 0
			}
			f.spent++
		}
		f.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-c.stopCh:
				t.Stop()
				c.endRepairs()
				return
			case <-f.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		select {
		case <-c.stopCh:
			c.endRepairs()
			return
		default:
		}
		c.repairOnce()
		// Apply what the push/pull taught: a new node requests the next
		// repair through noticeJoin (and resets quiet).
		c.drainChanges()
		f.mu.Lock()
		if f.first.IsZero() {
			if f.quiet++; f.quiet < repairQuiet {
				c.scheduleLocked(0)
			}
		}
		f.mu.Unlock()
	}
}

// endRepairs drops the pending repair when the node stops.
func (c *Cluster) endRepairs() {
	c.form.mu.Lock()
	c.form.active, c.form.first = false, time.Time{}
	c.form.mu.Unlock()
}

// repairOnce runs one push/pull with a random alive member, one not yet
// tried in this burst when there is one: a burst that asked the same
// uninformed partner twice would end early.
func (c *Cluster) repairOnce() {
	if c.left.Load() || c.leaving.Load() {
		return
	}
	f := &c.form
	f.mu.Lock()
	tried := f.tried
	f.mu.Unlock()
	peers := c.alivePeers(func(p *peerInfo) bool { return !tried[p.id] })
	if len(peers) == 0 {
		if peers = c.alivePeers(nil); len(peers) == 0 {
			return
		}
		tried = nil
	}
	p := peers[rand.IntN(len(peers))]
	if tried == nil {
		tried = make(map[string]bool)
	}
	tried[p.id] = true
	f.mu.Lock()
	f.tried = tried
	f.mu.Unlock()
	f.repairs.Add(1)
	if _, err := c.ml.Join([]string{p.addr}); err != nil {
		c.log.Debug("formation push/pull failed", "peer", p.id, "err", err)
	}
}

// noticeJoin requests a repair when the peer table has just learnt of a
// node that joined: a new id, one back from dead or left, or a restart.
// The same news may have missed other members.
func (c *Cluster) noticeJoin(old, p *peerInfo) {
	if p.state != StateAlive {
		return
	}
	if old == nil || old.state == StateDead || old.state == StateLeaving || restarted(old, p) {
		c.requestRepair()
	}
}
