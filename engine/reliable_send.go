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

// sendDeadline is the point a send stops waiting for window space. It is
// read from the clock only when a window is full: a send that finds room
// (the usual case) costs no clock read for it.
type sendDeadline struct {
	at      time.Time
	timeout time.Duration
}

func (d *sendDeadline) time() time.Time {
	if d.at.IsZero() {
		d.at = time.Now().Add(d.timeout)
	}
	return d.at
}

// senderTable holds the per-destination senders. mu also orders the start
// of sender goroutines against Stop (see Cluster.stop).
type senderTable struct {
	mu    sync.Mutex
	peers map[string]*peerSender
	index readIndex[*peerSender] // peers, read without mu on every message
}

func (t *senderTable) init() {
	t.peers = make(map[string]*peerSender)
	t.index.publish(t.peers)
}

// peerSender is the reliable session to one destination run.
type peerSender struct {
	id   string
	kick chan struct{} // wakes the goroutine (buffered 1)

	mu       sync.Mutex
	running  bool      // a writer is active: the goroutine, or a SendTo writing inline (writeInline)
	kicked   bool      // a message was queued and kick sent since the goroutine last took the window
	session  sessionID // current session
	dest     uint64    // destination instance the session is for (0: unknown)
	nextSeq  uint64    // number of the next message queued
	acked    uint64    // highest number acknowledged
	sendNext uint64    // next number to transmit
	win      []pending // by value: a queued message costs no allocation of its own
	winHead  int       // win[winHead] has number acked+1
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

	slab    []byte           // the block envelopes are being cut from (newEnvelope), nil while the window is empty
	blocks  []envBlock       // the blocks the window's envelopes were cut from, oldest first; the last is slab's
	writing bool             // frames picked by nextWrite are being written (until afterWrite)
	freed   []*[envSlab]byte // blocks acknowledged during that write, recycled after it

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
	if ps, ok := t.index.get(id); ok {
		return ps
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.peers[id]
	if ps == nil {
		ps = newPeerSender(id)
		t.peers[id] = ps
		t.index.publish(t.peers)
	}
	return ps
}

// lookup returns the sender for id or nil.
func (t *senderTable) lookup(id string) *peerSender {
	ps, _ := t.index.get(id)
	return ps
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
	return t.enqueueBy(ctx, c, c.peers.get(id), id, &m, &sendDeadline{at: deadline}, wantDone)
}

// enqueueBy is enqueue with a deadline read from the clock only if the
// window is full (sends to several destinations share one), and with the
// destination's entry the caller already looked up (nil if unknown).
func (t *senderTable) enqueueBy(ctx context.Context, c *Cluster, p *peerInfo, id string, m *outMsg, deadline *sendDeadline, wantDone bool) (chan error, error) {
	ps := t.get(id)
	inst := uint64(0)
	if p != nil && p.header != nil {
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
			timer = time.NewTimer(time.Until(deadline.time()))
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
	pm := pending{seq: seq, env: ps.newEnvelope(c, &envelope{
		flags: m.flags, msgType: m.msgType, sender: c.id, tag: m.tag, payload: m.payload,
		session: ps.session, seq: seq, dest: ps.dest, reliable: true,
	})}
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
	// Otherwise the goroutine is started, or kicked once per look it takes
	// at the window: a burst of sends to a busy writer costs no channel
	// operation per message.
	start, kick := false, false
	switch {
	case inline || !ps.running:
		ps.running = true
		start = !inline
	case !ps.kicked:
		ps.kicked = true
		kick = true
	}
	ps.mu.Unlock()
	switch {
	case inline:
		t.writeInline(c, ps)
	case start:
		t.start(c, ps)
	case kick:
		select {
		case ps.kick <- struct{}{}:
		default:
		}
	}
	return pm.done, nil
}

// envSlab is the size of the blocks the envelopes of small messages are
// cut from while a window holds messages: a burst costs one allocation per
// block instead of one per message. A block is freed once every envelope
// cut from it is acknowledged; the sender lets go of its current one when
// the window empties, so an idle destination holds none.
const envSlab = 16 << 10

// envSlabs holds blocks whose envelopes were all acknowledged, for the
// next burst to cut envelopes from: a sender streaming without pause then
// reuses a few blocks instead of leaving one to the garbage collector every
// 150 or so messages. Idle blocks go with the pool's usual clearing.
var envSlabs = sync.Pool{New: func() any { return new([envSlab]byte) }}

// envBlock is a block envelopes are cut from and the number of the last
// message cut from it: once that one is acknowledged, so are all of them.
type envBlock struct {
	buf  *[envSlab]byte
	last uint64
}

// newEnvelope encodes e for the window of ps. ps.mu is held.
func (ps *peerSender) newEnvelope(c *Cluster, e *envelope) []byte {
	size := envelopeOverhead(e.sender) + len(e.tag) + len(e.payload)
	if ps.inFlight() == 0 || size > envSlab/16 {
		// A lone message (SendTo, one at a time) or a large one: its own.
		return encodeEnvelope(e, c.tokenKey)
	}
	if cap(ps.slab)-len(ps.slab) < size {
		buf := envSlabs.Get().(*[envSlab]byte)
		ps.slab = buf[:0]
		ps.blocks = append(ps.blocks, envBlock{buf: buf})
	}
	at := len(ps.slab)
	env := encodeEnvelopeInto(ps.slab[at:at:at+size], e, c.tokenKey)
	if len(env) <= size && cap(env) == size {
		ps.slab = ps.slab[:at+len(env)] // still in the block (size bounds every envelope)
		ps.blocks[len(ps.blocks)-1].last = e.seq
	}
	return env
}

// releaseBlocks recycles the blocks whose envelopes are all acknowledged
// (up to number acked): every block but the one being cut from, and that
// one too once the window is empty. A block may still be read by a write
// in progress (a retransmission of what the receiver acknowledged
// meanwhile), so while one is, its blocks wait for afterWrite. ps.mu is
// held.
func (ps *peerSender) releaseBlocks(acked uint64) {
	n := 0
	for n < len(ps.blocks) && ps.blocks[n].last <= acked && (n < len(ps.blocks)-1 || ps.inFlight() == 0) {
		if ps.writing {
			ps.freed = append(ps.freed, ps.blocks[n].buf)
		} else {
			envSlabs.Put(ps.blocks[n].buf)
		}
		n++
	}
	if n == 0 {
		return
	}
	if n == len(ps.blocks) {
		ps.slab = nil
	}
	rest := copy(ps.blocks, ps.blocks[n:])
	clear(ps.blocks[rest:])
	ps.blocks = ps.blocks[:rest]
}

// dropBlocks forgets every block without recycling it, when the window
// fails: a write in progress may still read them. ps.mu is held.
func (ps *peerSender) dropBlocks() {
	clear(ps.blocks)
	ps.blocks, ps.slab = ps.blocks[:0], nil
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
	ps.running, ps.kicked = false, false
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
		ps.kicked = false // what was queued until now is seen by this pass
		var first uint64
		var wait time.Duration
		frames, first, wait = ps.nextWrite(c, p, now, frames[:0])
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
		pm := &ps.win[ps.winHead]
		pm.resent = true
		c.stats.reliableRetransmits.Add(1)
		ps.writing = true
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
	for k := i; k < end; k++ {
		pm := &ps.win[k]
		if pm.sentAt.IsZero() {
			pm.sentAt = now
		} else {
			pm.resent = true
			c.stats.reliableRetransmits.Add(1)
		}
		frames = append(frames, pm.env)
	}
	ps.sendNext += uint64(end - i)
	ps.writing = end > i
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
	ps.writing = false
	for i, buf := range ps.freed {
		envSlabs.Put(buf)
		ps.freed[i] = nil
	}
	ps.freed = ps.freed[:0]
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
	for i := ps.winHead; i < len(ps.win); i++ {
		if done := ps.win[i].done; done != nil {
			done <- err
		}
	}
	clear(ps.win)
	ps.win, ps.winHead, ps.winBytes = ps.win[:0], 0, 0
	ps.dropBlocks()
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
		t.index.publish(t.peers)
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
