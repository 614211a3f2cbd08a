package engine

import (
	"encoding/binary"
	"time"
)

// msgAck acknowledges reliable messages: session id, highest number
// delivered, flags. It travels unsequenced on the receiver's own outbound
// stream to the sender.
const msgAck = 5

// Acknowledgement flags.
const (
	ackBusy    = 1 << 0 // the receiver's event queue is full: pause and probe
	ackGap     = 1 << 1 // frames after the acknowledged one were dropped: resend from there
	ackUnknown = 1 << 2 // the receiver has no record of this session
)

// ackInfo is one acknowledgement.
type ackInfo struct {
	session sessionID
	seq     uint64 // every message up to this number is in the receiver's queue
	flags   byte
}

func encodeAck(a *ackInfo) []byte {
	b := make([]byte, 0, sessionIDLen+binary.MaxVarintLen64+1)
	b = append(b, a.session[:]...)
	b = binary.AppendUvarint(b, a.seq)
	return append(b, a.flags)
}

func decodeAck(p []byte) (ackInfo, bool) {
	var a ackInfo
	r := reader{b: p}
	copy(a.session[:], r.bytes(sessionIDLen))
	a.seq = r.uvarint()
	fl := r.bytes(1)
	if r.err != nil || len(r.b) != 0 {
		return a, false
	}
	a.flags = fl[0]
	return a, true
}

// scheduleAck makes a the acknowledgement due to node id; the sender
// goroutine for id sends the latest one due, so a burst of deliveries is
// acknowledged by few messages. While one is already due, whoever made it
// due has woken the goroutine, which has not taken it yet (it takes and
// clears it under ps.mu, and cannot return while it is set) and will send
// this newer one instead: no second wake is needed, which spares a
// delivery in a burst the wake's channel send and lock round.
func (t *senderTable) scheduleAck(c *Cluster, id string, a ackInfo) {
	ps := t.get(id)
	ps.mu.Lock()
	due := ps.ack != nil
	if !due {
		ps.ack = new(ackInfo)
	}
	*ps.ack = a
	ps.mu.Unlock()
	if !due {
		t.wake(c, ps)
	}
}

// sendAck writes an acknowledgement to p. Inline, it is written on the
// calling goroutine (the destination's sender goroutine, which has nothing
// else to write): a lone acknowledgement then costs no hand-off, which is
// most of a reliable SendTo's round trip. Otherwise it is queued ahead of
// the frames about to be written.
func (c *Cluster) sendAck(p *peerInfo, a *ackInfo, inline bool) {
	var dest uint64
	if p.header != nil {
		dest = p.header.instance
	}
	env := encodeEnvelope(&envelope{msgType: msgAck, sender: c.id, dest: dest, payload: encodeAck(a)}, c.tokenKey)
	var err error
	if inline {
		err = c.tr.Send(p.addr, env)
	} else {
		err = c.tr.SendAsyncShared(p.addr, env, nil)
	}
	if err != nil {
		c.log.Debug("acknowledgement not sent", "peer", p.id, "err", err)
	}
}

// receiveAck applies an acknowledgement from node e.sender to our window
// for it. It runs on the receive path and never blocks.
func (c *Cluster) receiveAck(e *envelope, viaStream bool) {
	a, ok := decodeAck(e.payload)
	if !ok || !viaStream {
		c.stats.decodeErrors.Add(1)
		return
	}
	ps := c.senders.lookup(e.sender)
	if ps == nil {
		return
	}
	now := time.Now()
	ps.mu.Lock()
	if a.session != ps.session {
		ps.mu.Unlock()
		return // an earlier session's
	}
	wake := false
	if a.flags&ackUnknown != 0 {
		if ps.acked > 0 {
			// The receiver acknowledged part of this session and then lost
			// its record of it (it dropped us as a member): what it holds
			// of the rest is unknown.
			ps.failLocked(c, errLostSession(e.sender))
			wake = true
		}
		ps.mu.Unlock()
		if wake {
			c.senders.wake(c, ps)
		}
		return
	}
	if a.seq > ps.acked && a.seq < ps.nextSeq {
		ps.ackUpTo(c, a.seq, now)
		wake = true
	}
	wasBusy := ps.busy
	ps.busy = a.flags&ackBusy != 0
	if ps.busy && !wasBusy {
		ps.probeEvery = 0
		ps.probeAt = now.Add(ps.rto)
	}
	if !ps.busy && ps.inFlight() > 0 {
		// A gap (frames dropped beyond the acknowledged one, including those
		// refused in a busy spell) asks for the rest again. Frames written
		// before an earlier go-back may still report the same gap: one
		// go-back per round trip is enough.
		guard := max(2*ps.srtt, 5*time.Millisecond)
		if a.flags&ackGap != 0 && now.Sub(ps.lastGoBack) > guard {
			ps.goBack(now)
			wake = true
		}
	}
	if wake && !ps.running && ps.ack == nil && !ps.busy && ps.sendNext >= ps.nextSeq {
		// No writer is active (the message went out inline) and nothing is
		// left to write: rather than a goroutine, the retransmission timer
		// watches what is still unacknowledged (ackUpTo disarmed it if
		// nothing is).
		if ps.inFlight() > 0 {
			ps.armRetransmit(&c.senders, c, ps.progress.Add(ps.rto).Sub(now))
		}
		wake = false
	}
	ps.mu.Unlock()
	if wake {
		c.senders.wake(c, ps)
	}
}

// ackUpTo removes the messages numbered up to seq from the window,
// reporting them delivered, and updates the round-trip estimate. ps.mu is
// held.
func (ps *peerSender) ackUpTo(c *Cluster, seq uint64, now time.Time) {
	n := int(seq - ps.acked)
	for i := ps.winHead; i < ps.winHead+n; i++ {
		pm := &ps.win[i]
		if pm.seq == seq && !pm.resent && !pm.sentAt.IsZero() {
			ps.sampleRTT(now.Sub(pm.sentAt))
		}
		if pm.done != nil {
			pm.done <- nil
		}
		ps.winBytes -= len(pm.env)
	}
	clear(ps.win[ps.winHead : ps.winHead+n])
	ps.winHead += n
	if ps.winHead == len(ps.win) {
		ps.win, ps.winHead = ps.win[:0], 0
		ps.disarmRetransmit()
	} else if ps.winHead > 1024 && ps.winHead*2 > len(ps.win) {
		ps.win = append(ps.win[:0], ps.win[ps.winHead:]...)
		ps.winHead = 0
	}
	ps.acked = seq
	ps.releaseBlocks(seq)
	ps.sendNext = max(ps.sendNext, seq+1)
	ps.progress = now
	ps.retryEvery = 0
	c.stats.reliableSent.Add(uint64(n))
	close(ps.space)
	ps.space = make(chan struct{})
}

// sampleRTT folds one round-trip sample into the retransmission timeout
// (RFC 6298, clamped to rtoMin..rtoMax). ps.mu is held.
func (ps *peerSender) sampleRTT(r time.Duration) {
	if ps.srtt == 0 {
		ps.srtt, ps.rttvar = r, r/2
	} else {
		d := ps.srtt - r
		if d < 0 {
			d = -d
		}
		ps.rttvar = (3*ps.rttvar + d) / 4
		ps.srtt = (7*ps.srtt + r) / 8
	}
	ps.rto = min(max(ps.srtt+4*ps.rttvar, rtoMin), rtoMax)
}
