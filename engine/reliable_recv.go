package engine

import (
	"fmt"
	"sync"
	"time"
)

// receiverTable holds one record per sender of reliable messages.
type receiverTable struct {
	mu      sync.Mutex
	senders map[string]*recvSession
	index   readIndex[*recvSession] // senders, read without mu on every frame
	waiting map[*recvSession]string // refused frames, waiting for queue room: sender id
	polling bool                    // resumeLoop runs

	owedMu sync.Mutex
	owed   []owedAck // acknowledgements put off until the stream's burst ends
}

// owedAck is a sender whose deliveries await their acknowledgement.
type owedAck struct {
	rs     *recvSession
	sender string
}

func (t *receiverTable) init() {
	t.senders = make(map[string]*recvSession)
	t.index.publish(t.senders)
	t.waiting = make(map[*recvSession]string)
}

// recvSession is what a receiver keeps per sender: the current session,
// the one before it (whose late frames must not restart it), the next
// number expected, and whether frames were refused for want of queue room.
type recvSession struct {
	sender   string     // the sender's id, shared by the envelopes it sends (knownSender)
	mu       sync.Mutex // held while delivering, to keep order
	session  sessionID
	retired  sessionID
	next     uint64 // 0: no session yet
	refusing bool   // the queue stayed full: refuse frames without waiting
	refused  bool   // frames were dropped since the last delivery

	delivered time.Duration // last delivery, on monoClock (stamped per message: no wall clock read)
	owed      bool          // deliveries wait for drained to acknowledge them
	unacked   int           // deliveries since the last acknowledgement was scheduled
	unackedB  int           // their bytes
	lastReset time.Time     // last reset of the stream carrying our acknowledgements
}

// verdict is what to do with one reliable frame.
type verdict uint8

const (
	vDeliver   verdict = iota + 1 // the next one: deliver it
	vDuplicate                    // already delivered
	vGap                          // beyond the next one: drop, the sender resends
	vUnknown                      // an unknown session not starting at 1
	vStale                        // the retired session's
)

// classify decides a frame's fate and, for the first frame of a new
// session, switches to it. rs.mu is held.
func (rs *recvSession) classify(session sessionID, seq uint64) verdict {
	if rs.next == 0 || session != rs.session {
		switch {
		case rs.next != 0 && session == rs.retired:
			return vStale
		case seq != 1:
			return vUnknown
		}
		if rs.next != 0 {
			rs.retired = rs.session
		}
		rs.session, rs.next, rs.refused = session, 1, false
	}
	switch {
	case seq < rs.next:
		return vDuplicate
	case seq > rs.next:
		return vGap
	}
	return vDeliver
}

// get returns (creating) the record for sender.
func (t *receiverTable) get(sender string) *recvSession {
	if rs, ok := t.index.get(sender); ok {
		return rs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rs := t.senders[sender]
	if rs == nil {
		rs = &recvSession{sender: sender}
		t.senders[sender] = rs
		t.index.publish(t.senders)
	}
	return rs
}

// knownSender returns the id of a sender of reliable messages named by b,
// if it has a record: an envelope from it then shares that string instead
// of allocating its own copy of the name.
func (t *receiverTable) knownSender(b []byte) (string, bool) {
	if rs, ok := t.index.getBytes(b); ok {
		return rs.sender, true
	}
	return "", false
}

// forget drops the record of a sender memberlist no longer knows. Should
// it come back with the same session, its frames are answered "unknown"
// and it fails the rest of its window (see receiveAck).
func (t *receiverTable) forget(sender string) {
	t.mu.Lock()
	if rs := t.senders[sender]; rs != nil {
		delete(t.waiting, rs)
		delete(t.senders, sender)
		t.index.publish(t.senders)
	}
	t.mu.Unlock()
}

// receive handles one reliable frame from e.sender.
func (t *receiverTable) receive(c *Cluster, e *envelope) {
	rs := t.get(e.sender)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	ack := ackInfo{session: e.session}
	switch rs.classify(e.session, e.seq) {
	case vStale:
		c.stats.reliableDuplicates.Add(1)
		return
	case vUnknown:
		ack.flags = ackUnknown
		c.senders.scheduleAck(c, e.sender, ack)
		return
	case vDuplicate:
		c.stats.reliableDuplicates.Add(1)
		t.checkAckStream(c, rs, e.sender)
	case vGap:
		rs.refused = true
	case vDeliver:
		if !t.deliver(c, rs, e) {
			if !c.running() {
				return
			}
			rs.refused = true
		} else {
			// The pump is woken only after the acknowledgement is
			// scheduled: the goroutine that scheduleAck readies would
			// otherwise take the scheduler's next slot ahead of the pump,
			// and the handler would wait behind the acknowledgement's write.
			defer c.queue.wake()
			if t.deferAck(rs, e.sender, len(e.raw)) {
				return
			}
		}
	}
	c.senders.scheduleAck(c, e.sender, rs.ackNow())
}

// ackNow is the acknowledgement of what rs delivered so far, and notes it
// scheduled. rs.mu is held.
func (rs *recvSession) ackNow() ackInfo {
	ack := ackInfo{session: rs.session, seq: rs.next - 1}
	if rs.refused {
		ack.flags |= ackGap
	}
	if rs.refusing {
		ack.flags |= ackBusy
	}
	rs.owed, rs.unacked, rs.unackedB = false, 0, 0
	return ack
}

// deferAck puts off the acknowledgement of a delivery of size bytes until
// the stream carrying it has handled its burst of frames (drained): one
// acknowledgement then covers the burst, where one per scheduling of the
// acknowledging goroutine went out before. A lone message (a SendTo
// waiting for its acknowledgement) is a burst of one, acknowledged as soon
// as it is delivered. Past ackEvery messages or ackEveryBytes it is not
// put off, so a sender streaming without pause still gets its window back
// in time. rs.mu is held.
func (t *receiverTable) deferAck(rs *recvSession, sender string, size int) bool {
	rs.unacked++
	rs.unackedB += size
	if rs.unacked >= ackEvery || rs.unackedB >= ackEveryBytes {
		return false
	}
	if !rs.owed {
		rs.owed = true
		t.owedMu.Lock()
		t.owed = append(t.owed, owedAck{rs: rs, sender: sender})
		t.owedMu.Unlock()
	}
	return true
}

// drained acknowledges the deliveries put off by deferAck; the streams
// transport calls it when an inbound stream has handed every frame read so
// far to receiveStream and reads the connection again.
func (t *receiverTable) drained(c *Cluster) {
	t.owedMu.Lock()
	if len(t.owed) == 0 {
		t.owedMu.Unlock()
		return
	}
	var buf [8]owedAck
	owed := append(buf[:0], t.owed...)
	clear(t.owed)
	t.owed = t.owed[:0]
	t.owedMu.Unlock()
	for _, o := range owed {
		rs := o.rs
		rs.mu.Lock()
		if cur, _ := t.index.get(o.sender); rs.owed && cur == rs {
			c.senders.scheduleAck(c, o.sender, rs.ackNow())
		}
		rs.mu.Unlock()
	}
}

// deliver hands the next frame of rs to the engine. A user message waits
// up to busyWait for room in the event queue (TCP pushes back on the sender
// meanwhile), except while rs is already refusing; when the queue stays
// full the frame is refused (not delivered, not acknowledged) and a resume
// is scheduled for when the queue has room. rs.mu is held.
func (t *receiverTable) deliver(c *Cluster, rs *recvSession, e *envelope) bool {
	wait := busyWait
	if rs.refusing {
		wait = 0
	} else if e.msgType >= MinUserMessageType && c.queue.messages() >= c.cfg.EventQueueSize {
		// Tell the sender before waiting, so that it pauses rather than
		// taking the wait for a lost frame and resending.
		c.senders.scheduleAck(c, e.sender, ackInfo{session: rs.session, seq: rs.next - 1, flags: ackBusy})
	}
	if !c.deliverWithin(e, wait) {
		if c.running() {
			rs.refusing = true
			t.awaitRoom(c, rs, e.sender)
		}
		return false
	}
	rs.next++
	rs.refusing, rs.refused = false, false
	rs.delivered = monoClock()
	return true
}

// checkAckStream resets the stream that carries acknowledgements to sender
// when a duplicate shows they are not getting through: the sender resends
// what was delivered long ago only after its retransmission timeout, having
// heard nothing. A stream can swallow what is written to it without an
// error on the writer's side (the reader stuck on a damaged frame length,
// say) for as long as writes keep it from idling out; acknowledging on it
// forever would leave the sender retransmitting forever. rs.mu is held.
func (t *receiverTable) checkAckStream(c *Cluster, rs *recvSession, sender string) {
	if monoClock()-rs.delivered < ackStreamSuspect {
		return
	}
	now := time.Now()
	if now.Sub(rs.lastReset) < ackStreamSuspect {
		return
	}
	if p := c.peers.get(sender); p != nil {
		rs.lastReset = now
		c.tr.ClosePeer(p.addr)
	}
}

// awaitRoom registers rs to be told when the queue has room again.
func (t *receiverTable) awaitRoom(c *Cluster, rs *recvSession, sender string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiting[rs] = sender
	if t.polling {
		return
	}
	c.senders.mu.Lock() // goroutine start ordered against Stop
	defer c.senders.mu.Unlock()
	if !c.running() {
		return
	}
	t.polling = true
	c.wg.Add(1)
	go t.resumeLoop(c)
}

// resumeLoop waits until the event queue has room for a good part of its
// bound, then asks every refused sender to resend. The senders also probe,
// so a lost resume costs at most a probe interval.
func (t *receiverTable) resumeLoop(c *Cluster) {
	defer c.wg.Done()
	tick := time.NewTicker(resumePoll)
	defer tick.Stop()
	for {
		select {
		case <-c.stopCh:
			t.mu.Lock()
			t.polling = false
			t.mu.Unlock()
			return
		case <-tick.C:
		}
		if c.queue.messages() > c.cfg.EventQueueSize/2 {
			continue
		}
		t.mu.Lock()
		waiting := t.waiting
		t.waiting = make(map[*recvSession]string)
		t.polling = false
		t.mu.Unlock()
		for rs, sender := range waiting {
			rs.mu.Lock()
			rs.refusing = false
			ack := ackInfo{session: rs.session, seq: rs.next - 1, flags: ackGap}
			rs.mu.Unlock()
			c.senders.scheduleAck(c, sender, ack)
		}
		return
	}
}

// errLostSession is the failure of messages whose receiver forgot us.
func errLostSession(id string) error {
	return fmt.Errorf("%w: node %q lost track of this node's reliable messages; unacknowledged ones may or may not have been delivered", ErrTimeout, id)
}
