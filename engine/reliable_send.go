package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// outMsg is one reliable message to queue.
type outMsg struct {
	msgType int
	tag     string
	flags   byte
	payload []byte
	// internal marks engine messages sent from the receive path: they never
	// wait for window space (they use internalSlack or are refused).
	internal bool
}

// pending is a message in a destination's window.
type pending struct {
	seq    uint64
	env    []byte     // encoded envelope, kept for retransmission
	sentAt time.Time  // first transmission, for round-trip samples
	resent bool       // transmitted more than once: no round-trip sample (Karn)
	done   chan error // SendTo's outcome (buffered); nil for Send
}

// senderTable holds the per-destination senders. mu also orders the start
// of sender goroutines against Stop (see Cluster.stop).
type senderTable struct {
	mu    sync.Mutex
	peers map[string]*peerSender
}

func (t *senderTable) init() { t.peers = make(map[string]*peerSender) }

// peerSender is the reliable session to one destination run.
type peerSender struct {
	id   string
	kick chan struct{} // wakes the goroutine (buffered 1)

	mu       sync.Mutex
	running  bool      // a writer is active: the goroutine, or a SendTo writing inline (writeInline)
	session  sessionID // current session
	dest     uint64    // destination instance the session is for (0: unknown)
	nextSeq  uint64    // number of the next message queued
	acked    uint64    // highest number acknowledged
	sendNext uint64    // next number to transmit
	win      []*pending
	winHead  int // win[winHead] has number acked+1
	winBytes int
	space    chan struct{} // closed when the window shrinks

	srtt, rttvar time.Duration
	rto          time.Duration
	progress     time.Time // last acknowledgement progress or start of waiting for one
	busy         bool      // the receiver said its queue is full
	probeAt      time.Time // next probe of a busy receiver
	probeEvery   time.Duration
	retryAt      time.Time // no writes before this (after a write error)
	retryEvery   time.Duration
	lastGoBack   time.Time
	lastFailLog  time.Time
	resetStream  bool // close the stream before the next write

	ack *ackInfo // acknowledgement to send to this node (as a receiver), nil when none is due

	// rtx starts the goroutine when the retransmission timeout passes
	// while no writer is active (after writeInline); nil until first used.
	rtx *time.Timer
}

func newPeerSender(id string) *peerSender {
	return &peerSender{
		id: id, kick: make(chan struct{}, 1), session: newSessionID(),
		nextSeq: 1, sendNext: 1, space: make(chan struct{}), rto: rtoInitial,
	}
}

// get returns the sender for id, creating it.
func (t *senderTable) get(id string) *peerSender {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.peers[id]
	if ps == nil {
		ps = newPeerSender(id)
		t.peers[id] = ps
	}
	return ps
}

// lookup returns the sender for id or nil.
func (t *senderTable) lookup(id string) *peerSender {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peers[id]
}

// unacked is the number of messages in flight over all destinations.
func (t *senderTable) unacked() int {
	t.mu.Lock()
	all := make([]*peerSender, 0, len(t.peers))
	for _, ps := range t.peers {
		all = append(all, ps)
	}
	t.mu.Unlock()
	n := 0
	for _, ps := range all {
		ps.mu.Lock()
		n += ps.inFlight()
		ps.mu.Unlock()
	}
	return n
}

// inFlight is the number of messages in the window. ps.mu is held.
func (ps *peerSender) inFlight() int { return len(ps.win) - ps.winHead }

// wake nudges the goroutine of ps, starting it when needed.
func (t *senderTable) wake(c *Cluster, ps *peerSender) {
	select {
	case ps.kick <- struct{}{}:
	default:
	}
	ps.mu.Lock()
	start := !ps.running
	ps.running = true
	ps.mu.Unlock()
	if start {
		t.start(c, ps)
	}
}

// start runs the goroutine of ps, whose running flag the caller set.
func (t *senderTable) start(c *Cluster, ps *peerSender) {
	// Under the table lock with the running check, so that no goroutine
	// starts once Stop waits for them.
	t.mu.Lock()
	if !c.running() {
		t.mu.Unlock()
		ps.mu.Lock()
		ps.running = false
		ps.mu.Unlock()
		return
	}
	c.wg.Add(1)
	t.mu.Unlock()
	go t.run(c, ps)
}

// enqueue puts m into id's window, waiting for space until deadline or ctx
// ends. It returns the message's outcome channel when wantDone is set. An
// error means the message was not queued and nothing was sent.
func (t *senderTable) enqueue(ctx context.Context, c *Cluster, id string, m outMsg, deadline time.Time, wantDone bool) (chan error, error) {
	ps := t.get(id)
	inst := uint64(0)
	if p := c.peers.get(id); p != nil && p.header != nil {
		inst = p.header.instance
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if !c.running() {
			return nil, errNotRunning()
		}
		ps.mu.Lock()
		if inst != 0 && ps.dest != inst {
			if ps.dest != 0 {
				ps.failLocked(c, fmt.Errorf("%w: node %q restarted; unacknowledged reliable messages may or may not have been delivered", ErrTimeout, id))
			}
			ps.dest = inst
		}
		n, size := ps.inFlight(), ps.winBytes
		limit := windowMessages
		if m.internal {
			limit += internalSlack
		}
		if n == 0 || (n < limit && size+len(m.payload) <= windowBytes) || (m.internal && n < limit) {
			break // ps.mu stays held
		}
		space := ps.space
		ps.mu.Unlock()
		if m.internal {
			return nil, fmt.Errorf("%w: reliable window to %q is full", ErrTimeout, id)
		}
		if timer == nil {
			timer = time.NewTimer(time.Until(deadline))
		}
		select {
		case <-space:
		case <-timer.C:
			return nil, fmt.Errorf("%w: not sent: the reliable window to node %q stayed full (%d messages unacknowledged); nothing was sent, retrying is safe", ErrTimeout, id, n)
		case <-ctx.Done():
			return nil, fmt.Errorf("not sent to node %q: %w", id, ctx.Err())
		case <-c.stopCh:
			return nil, errNotRunning()
		}
	}
	seq := ps.nextSeq
	ps.nextSeq++
	pm := &pending{seq: seq, env: encodeEnvelope(&envelope{
		flags: m.flags, msgType: m.msgType, sender: c.id, tag: m.tag, payload: m.payload,
		session: ps.session, seq: seq, dest: ps.dest, reliable: true,
	}, c.tokenKey)}
	if wantDone {
		pm.done = make(chan error, 1)
	}
	if ps.inFlight() == 0 {
		ps.progress = time.Now() // the retransmission clock starts with the first message
	}
	ps.win = append(ps.win, pm)
	ps.winBytes += len(pm.env)
	// A lone message to an idle destination, whose caller waits for the
	// outcome anyway, is written on the caller's goroutine: no hand-off and
	// no goroutine start on the way to the receiver. Holding the writer
	// role (running) keeps the order. Messages from the receive path never
	// write there: that path must not wait on a socket.
	inline := wantDone && !m.internal && !ps.running && ps.ack == nil && !ps.resetStream && ps.inFlight() == 1
	if inline {
		ps.running = true
	}
	ps.mu.Unlock()
	if inline {
		t.writeInline(c, ps)
	} else {
		t.wake(c, ps)
	}
	return pm.done, nil
}

// writeInline writes what is due to ps on the calling goroutine, which
// holds the writer role (ps.running), then gives the role up when only
// acknowledgements are awaited, arming the retransmission timer, or hands
// it to the goroutine when there is more to do (messages queued meanwhile,
// an acknowledgement to send, a write error, a paused destination).
func (t *senderTable) writeInline(c *Cluster, ps *peerSender) {
	p := c.peers.get(ps.id)
	if p == nil || !c.tr.Ready(p.addr) {
		// Dialling (the first message, or after the connection broke) can
		// take longer than the send's timeout: the goroutine does it.
		t.start(c, ps)
		return
	}
	ps.mu.Lock()
	// Usually just the caller's message; more when others queued meanwhile.
	frames, first, _ := ps.nextWrite(c, p, time.Now(), nil)
	ps.mu.Unlock()
	if len(frames) > 0 {
		err := c.writeFrames(p.addr, frames)
		ps.mu.Lock()
		ps.afterWrite(first, err, time.Now())
		ps.mu.Unlock()
	}
	now := time.Now()
	ps.mu.Lock()
	n := ps.inFlight()
	if ps.ack != nil || (n > 0 && (ps.sendNext < ps.nextSeq || ps.busy || now.Before(ps.retryAt))) {
		ps.mu.Unlock()
		t.start(c, ps)
		return
	}
	ps.running = false
	if n > 0 {
		ps.armRetransmit(t, c, ps.progress.Add(ps.rto).Sub(now))
	}
	ps.mu.Unlock()
}

// armRetransmit makes the goroutine start after d unless an
// acknowledgement empties the window first. ps.mu is held.
func (ps *peerSender) armRetransmit(t *senderTable, c *Cluster, d time.Duration) {
	if ps.rtx == nil {
		ps.rtx = time.AfterFunc(d, func() { t.wake(c, ps) })
		return
	}
	ps.rtx.Reset(d)
}

// disarmRetransmit stops the retransmission timer. ps.mu is held.
func (ps *peerSender) disarmRetransmit() {
	if ps.rtx != nil {
		ps.rtx.Stop()
	}
}

// run writes ps's window in order and handles retransmission; it is the
// only goroutine writing to that destination, which keeps the order. It
// returns when the window is empty and no acknowledgement is due.
func (t *senderTable) run(c *Cluster, ps *peerSender) {
	defer c.wg.Done()
	var frames [][]byte
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if !c.running() {
			ps.mu.Lock()
			ps.failLocked(c, errNotRunning())
			ps.running = false
			ps.mu.Unlock()
			return
		}
		p := c.peers.get(ps.id)
		now := time.Now()
		ps.mu.Lock()
		ack := ps.ack
		ps.ack = nil
		frames, first, wait := ps.nextWrite(c, p, now, frames[:0])
		if ack == nil && len(frames) == 0 && ps.inFlight() == 0 {
			ps.running = false
			ps.mu.Unlock()
			return
		}
		reset := ps.resetStream && len(frames) > 0
		ps.resetStream = false
		ps.mu.Unlock()

		if reset {
			c.tr.ClosePeer(p.addr)
		}
		if ack != nil && p != nil {
			c.sendAck(p, ack, len(frames) == 0)
		}
		if len(frames) == 0 {
			timer.Reset(wait)
			select {
			case <-ps.kick:
			case <-timer.C:
			case <-c.stopCh:
			}
			continue
		}
		err := c.writeFrames(p.addr, frames)
		ps.mu.Lock()
		ps.afterWrite(first, err, time.Now())
		ps.mu.Unlock()
		clear(frames)
	}
}

// nextWrite picks the frames to write now, numbered from first, or says how
// long to wait before looking again. ps.mu is held.
func (ps *peerSender) nextWrite(c *Cluster, p *peerInfo, now time.Time, frames [][]byte) ([][]byte, uint64, time.Duration) {
	idle := time.Hour
	if ps.inFlight() == 0 {
		return frames, 0, idle
	}
	if p == nil || p.state == StateDead || p.state == StateLeaving {
		// Paused: the window is kept for a comeback; a leave or removal
		// fails it from the peer table's update.
		return frames, 0, 100 * time.Millisecond
	}
	if now.Before(ps.retryAt) {
		return frames, 0, ps.retryAt.Sub(now)
	}
	if ps.busy {
		if now.Before(ps.probeAt) {
			return frames, 0, ps.probeAt.Sub(now)
		}
		// Probe with the first unacknowledged message only: a receiver
		// that is alive but not pumping is never flooded.
		ps.probeEvery = min(max(2*ps.probeEvery, ps.rto), probeMax)
		ps.probeAt = now.Add(ps.probeEvery)
		pm := ps.win[ps.winHead]
		pm.resent = true
		c.stats.reliableRetransmits.Add(1)
		return append(frames, pm.env), pm.seq, ps.probeEvery
	}
	if ps.sendNext >= ps.nextSeq {
		// Everything is out: wait for acknowledgements, and go back to the
		// first unacknowledged message when none makes progress.
		due := ps.progress.Add(ps.rto)
		if now.Before(due) {
			return frames, 0, due.Sub(now)
		}
		ps.rto = min(2*ps.rto, rtoMax)
		ps.goBack(now)
		// The stream may be broken in a way its writer cannot see (the
		// receiver stuck reading a damaged frame length, say): the
		// retransmission goes on a new one.
		ps.resetStream = true
	}
	first := ps.sendNext
	i := ps.winHead + int(first-ps.acked-1)
	end := min(len(ps.win), i+maxBatch)
	for _, pm := range ps.win[i:end] {
		if pm.sentAt.IsZero() {
			pm.sentAt = now
		} else {
			pm.resent = true
			c.stats.reliableRetransmits.Add(1)
		}
		frames = append(frames, pm.env)
	}
	ps.sendNext += uint64(end - i)
	return frames, first, 0
}

// goBack makes the next write start again at the first unacknowledged
// message. ps.mu is held.
func (ps *peerSender) goBack(now time.Time) {
	ps.sendNext = ps.acked + 1
	ps.progress = now
	ps.lastGoBack = now
}

// afterWrite records the outcome of writing the frames numbered from
// first: after an error the window is written again from its first
// unacknowledged message, after a pause that grows while errors repeat.
// ps.mu is held.
func (ps *peerSender) afterWrite(first uint64, err error, now time.Time) {
	if err == nil {
		ps.retryEvery = 0
		return
	}
	ps.retryEvery = min(max(2*ps.retryEvery, retryMin), retryMax)
	ps.retryAt = now.Add(ps.retryEvery)
	if first != 0 && ps.sendNext > ps.acked+1 {
		ps.goBack(now)
	}
}

// failLocked fails every unacknowledged message with err and starts a new
// session: the destination will never acknowledge them. ps.mu is held.
func (ps *peerSender) failLocked(c *Cluster, err error) {
	n := ps.inFlight()
	ps.disarmRetransmit()
	for _, pm := range ps.win[ps.winHead:] {
		if pm.done != nil {
			pm.done <- err
		}
	}
	clear(ps.win)
	ps.win, ps.winHead, ps.winBytes = ps.win[:0], 0, 0
	ps.session = newSessionID()
	ps.nextSeq, ps.acked, ps.sendNext = 1, 0, 1
	ps.busy, ps.retryAt, ps.retryEvery, ps.probeEvery = false, time.Time{}, 0, 0
	close(ps.space)
	ps.space = make(chan struct{})
	if n == 0 {
		return
	}
	c.stats.reliableFailed.Add(uint64(n))
	if now := time.Now(); now.Sub(ps.lastFailLog) >= failLogEvery {
		ps.lastFailLog = now
		c.log.Warn("reliable messages not acknowledged and given up", "peer", ps.id, "messages", n, "err", err)
	}
}

// fail fails id's window (the destination left, was removed or restarted)
// and, when forget is set, drops the sender's record.
func (t *senderTable) fail(c *Cluster, id string, err error, forget bool) {
	t.mu.Lock()
	ps := t.peers[id]
	if forget && ps != nil {
		delete(t.peers, id)
	}
	t.mu.Unlock()
	if ps == nil {
		return
	}
	ps.mu.Lock()
	ps.failLocked(c, err)
	ps.dest = 0
	ps.mu.Unlock()
	select {
	case ps.kick <- struct{}{}:
	default:
	}
}

// kickPeer wakes id's goroutine (a peer came back alive, for example).
func (t *senderTable) kickPeer(c *Cluster, id string) {
	if ps := t.lookup(id); ps != nil {
		ps.mu.Lock()
		has := ps.inFlight() > 0
		if has {
			ps.goBack(time.Now())
		}
		ps.mu.Unlock()
		if has {
			t.wake(c, ps)
		}
	}
}

// wakeAll releases everything waiting on a sender when the node stops.
func (t *senderTable) wakeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range t.peers {
		select {
		case ps.kick <- struct{}{}:
		default:
		}
	}
}

// failAll fails every window (the node stopped).
func (t *senderTable) failAll(c *Cluster) {
	t.mu.Lock()
	all := make([]*peerSender, 0, len(t.peers))
	for _, ps := range t.peers {
		all = append(all, ps)
	}
	t.mu.Unlock()
	for _, ps := range all {
		ps.mu.Lock()
		ps.failLocked(c, errNotRunning())
		ps.mu.Unlock()
	}
}

// writeFrames writes envs in order on the stream to addr and returns once
// all are written, or with the first error. They go to the transport as
// one batch: a burst costs one queueing step, not one per frame, and the
// calling goroutine writes them itself when the stream is idle.
func (c *Cluster) writeFrames(addr string, envs [][]byte) error {
	return c.tr.SendBatch(addr, envs)
}
