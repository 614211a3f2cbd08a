package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Reliable delivery.
//
// Reliable envelopes travel on engine/streams (see transport.go): one
// persistent TCP stream per destination, which keeps the frames of one
// connection in order. A stream can still fail and be redialled, so a frame
// reported failed may have arrived, and frames of the old and new
// connection can interleave at the receiver. The engine therefore keeps its
// own numbering on top, for exactly-once, in-order delivery:
//
//   - Sender side: one queue and (while it has work) one goroutine per
//     destination send messages in batches, numbered 1, 2, 3, ... within
//     a stream. A stream id is unique per sender run (time-seeded counter),
//     and a new stream starts for every destination run (instance from the
//     node header) and after a message is given up on, so the receiver never
//     waits for a number that will not come.
//   - A failed write is retried with the same numbers; the receiver drops
//     duplicates, so a retry of a write that did arrive is harmless.
//   - Receiver side: per sender (the node id in the envelope, since the
//     stream's remote address is an ephemeral port), the current stream, the
//     next expected number and a bounded reorder buffer. In-order messages
//     are delivered while holding the sender's lock, so deliveries from two
//     connections cannot overtake each other. When the event queue is full
//     the stream's goroutine blocks, the stream stops being read and TCP
//     flow control pushes back on the sender: reliable messages get
//     backpressure, never silent drops.

const (
	maxPendingPerPeer = 8192 // queued reliable messages per destination before Send blocks
	sendAttempts      = 4    // writes tried per message
	maxBatch          = 1024 // messages taken from a destination's queue per write round
	retryBackoff      = 50 * time.Millisecond
	maxReorder        = 4096             // out-of-order messages kept per sender
	gapTimeout        = 10 * time.Second // wait this long for a missing number before skipping it
)

// outMsg is one queued reliable message.
type outMsg struct {
	msgType int
	tag     string
	flags   byte
	payload []byte
	done    chan error // receives the outcome when non-nil
}

// senderTable holds the per-destination senders.
type senderTable struct {
	mu    sync.Mutex
	peers map[string]*peerSender
}

func (t *senderTable) init() { t.peers = make(map[string]*peerSender) }

// peerSender sends to one destination in order.
type peerSender struct {
	id      string
	cond    *sync.Cond // on senderTable.mu: signalled as the queue drains
	queue   []outMsg
	running bool
	stream  uint64 // 0: start a new stream with the next message
	seq     uint64
	dest    uint64 // destination instance the stream is for
}

// enqueue queues m for id, blocking while that destination already has
// maxPendingPerPeer messages waiting, until ctx ends (its error returned).
func (t *senderTable) enqueue(ctx context.Context, c *Cluster, id string, m outMsg) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.peers[id]
	if ps == nil {
		ps = &peerSender{id: id, cond: sync.NewCond(&t.mu)}
		t.peers[id] = ps
	}
	if len(ps.queue) >= maxPendingPerPeer {
		stop := context.AfterFunc(ctx, func() {
			t.mu.Lock()
			ps.cond.Broadcast()
			t.mu.Unlock()
		})
		defer stop()
	}
	for len(ps.queue) >= maxPendingPerPeer && c.running() && ctx.Err() == nil {
		ps.cond.Wait()
	}
	if !c.running() {
		return errNotRunning()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ps.queue = append(ps.queue, m)
	if !ps.running {
		ps.running = true
		c.wg.Add(1)
		go t.run(c, ps)
	}
	return nil
}

// drop forgets the stream state for a peer that is no longer alive, so a
// comeback starts a fresh stream; queued messages still go out (and fail).
func (t *senderTable) drop(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ps := t.peers[id]; ps != nil {
		ps.stream = 0
		if !ps.running && len(ps.queue) == 0 {
			delete(t.peers, id)
		}
	}
}

// wakeAll releases senders blocked in enqueue when the node stops.
func (t *senderTable) wakeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range t.peers {
		ps.cond.Broadcast()
	}
}

// run sends ps's queue until it is empty; it is the only goroutine sending
// to that destination, which is what keeps the order. Each round takes
// everything queued (up to maxBatch), so under load many messages share one
// stream write.
func (t *senderTable) run(c *Cluster, ps *peerSender) {
	defer c.wg.Done()
	var batch []outMsg
	for {
		t.mu.Lock()
		if len(ps.queue) == 0 || !c.running() {
			for _, m := range ps.queue {
				finish(m, errNotRunning())
			}
			ps.queue = nil
			ps.running = false
			ps.cond.Broadcast()
			t.mu.Unlock()
			return
		}
		n := min(len(ps.queue), maxBatch)
		batch = append(batch[:0], ps.queue[:n]...)
		clear(ps.queue[:n])
		ps.queue = ps.queue[n:]
		ps.cond.Broadcast()
		t.mu.Unlock()
		c.sendBatch(ps, batch)
		clear(batch)
	}
}

// finish reports the outcome to a waiting SendTo.
func finish(m outMsg, err error) {
	if m.done != nil {
		m.done <- err
	}
}

// sendBatch numbers and writes a batch with retries. Only run calls it, so
// the stream fields of ps need the lock only against drop.
//
// A failed write is retried from the first failed message onwards, in
// order, even for messages after it that did get through (the receiver
// drops the duplicates): a later message must never be reported sent, and
// left waiting at the receiver, behind one that is then given up on.
func (c *Cluster) sendBatch(ps *peerSender, batch []outMsg) {
	p := c.peers.get(ps.id)
	if p == nil || p.state != StateAlive {
		c.stats.reliableFailed.Add(uint64(len(batch)))
		err := fmt.Errorf("%w: node %q is not alive", ErrTimeout, ps.id)
		for _, m := range batch {
			finish(m, err)
		}
		return
	}
	var inst uint64
	if p.header != nil {
		inst = p.header.instance
	}
	envs := make([][]byte, len(batch))
	c.senders.mu.Lock()
	if ps.stream == 0 || ps.dest != inst {
		ps.stream, ps.seq, ps.dest = c.streamID.Add(1), 0, inst
	}
	for i, m := range batch {
		ps.seq++
		envs[i] = encodeEnvelope(&envelope{
			flags: m.flags, msgType: m.msgType, sender: c.id, tag: m.tag, payload: m.payload,
			stream: ps.stream, seq: ps.seq, dest: inst, reliable: true,
		}, c.tokenKey)
	}
	c.senders.mu.Unlock()
	errs := make([]error, len(batch))
	from := 0 // first message not yet known to be written
	var err error
	for attempt := 0; attempt < sendAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(retryBackoff << (attempt - 1)):
			case <-c.stopCh:
				finishAll(batch[from:], errNotRunning())
				return
			}
		}
		c.writeFrames(p.addr, envs[from:], errs[from:])
		ok := from
		for ok < len(batch) && errs[ok] == nil {
			finish(batch[ok], nil)
			ok++
		}
		c.stats.reliableSent.Add(uint64(ok - from))
		if from = ok; from == len(batch) {
			return
		}
		err = errs[from]
		if !c.running() {
			finishAll(batch[from:], errNotRunning())
			return
		}
	}
	c.senders.mu.Lock()
	ps.stream = 0 // the receiver will never see these numbers: start afresh
	c.senders.mu.Unlock()
	c.stats.reliableFailed.Add(uint64(len(batch) - from))
	c.log.Warn("reliable messages not delivered", "peer", ps.id, "messages", len(batch)-from, "attempts", sendAttempts, "err", err)
	finishAll(batch[from:], fmt.Errorf("%w: node %q unreachable after %d attempts: %v", ErrTimeout, ps.id, sendAttempts, err))
}

// finishAll reports err to every waiting SendTo in ms.
func finishAll(ms []outMsg, err error) {
	for _, m := range ms {
		finish(m, err)
	}
}

// writeFrames writes envs in order on the stream to addr and records each
// frame's outcome in errs; it returns once every outcome is known. All but
// the last frame are queued without waiting, and the last one is sent
// inline, so a lone message costs no goroutine hand-off in the transport.
func (c *Cluster) writeFrames(addr string, envs [][]byte, errs []error) {
	var wg sync.WaitGroup
	last := len(envs) - 1
	for i, env := range envs[:last] {
		errs[i] = nil
		wg.Add(1)
		if err := c.tr.SendAsync(addr, env, func(err error) {
			errs[i] = err
			wg.Done()
		}); err != nil {
			errs[i] = err
			wg.Done()
		}
	}
	errs[last] = c.tr.Send(addr, envs[last])
	wg.Wait()
}

// mlNode is the memberlist address of p.
func (p *peerInfo) mlNode() *memberlist.Node {
	return &memberlist.Node{Name: p.id, Addr: p.ip, Port: p.port}
}

// receiverTable holds per-sender ordering state.
type receiverTable struct {
	mu      sync.Mutex
	senders map[string]*recvStream
}

func (t *receiverTable) init() { t.senders = make(map[string]*recvStream) }

// recvStream orders the reliable messages of one sender.
type recvStream struct {
	mu       sync.Mutex // held while delivering, to keep order
	stream   uint64
	next     uint64
	buf      map[uint64]*envelope
	gapSince time.Time
}

// get returns (creating) the state for sender.
func (t *receiverTable) get(sender string) *recvStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	rs := t.senders[sender]
	if rs == nil {
		rs = &recvStream{buf: make(map[uint64]*envelope)}
		t.senders[sender] = rs
	}
	return rs
}

// forget drops the state of a sender memberlist no longer knows.
func (t *receiverTable) forget(sender string) {
	t.mu.Lock()
	delete(t.senders, sender)
	t.mu.Unlock()
}

// receive orders e among its sender's messages and delivers what is due.
func (t *receiverTable) receive(c *Cluster, e *envelope) {
	rs := t.get(e.sender)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case e.stream < rs.stream:
		c.stats.reliableDuplicates.Add(1) // an abandoned stream
		return
	case e.stream > rs.stream:
		rs.stream, rs.next, rs.gapSince = e.stream, 1, time.Time{}
		clear(rs.buf)
	}
	switch {
	case e.seq < rs.next:
		c.stats.reliableDuplicates.Add(1)
		return
	case e.seq > rs.next:
		if _, dup := rs.buf[e.seq]; dup {
			c.stats.reliableDuplicates.Add(1)
			return
		}
		rs.buf[e.seq] = e
		if rs.gapSince.IsZero() {
			rs.gapSince = time.Now()
		}
		if len(rs.buf) > maxReorder {
			rs.skipGap(c)
		}
		return
	}
	if !c.deliver(e, pushBlock) {
		return // stopping
	}
	rs.next++
	rs.drain(c)
}

// drain delivers buffered messages that are now in order. rs.mu is held.
func (rs *recvStream) drain(c *Cluster) {
	for {
		e, ok := rs.buf[rs.next]
		if !ok {
			break
		}
		delete(rs.buf, rs.next)
		if !c.deliver(e, pushBlock) {
			return
		}
		rs.next++
	}
	if len(rs.buf) == 0 {
		rs.gapSince = time.Time{}
	} else {
		rs.gapSince = time.Now()
	}
}

// skipGap gives up on the missing numbers before the lowest buffered one.
// rs.mu is held.
func (rs *recvStream) skipGap(c *Cluster) {
	lowest := uint64(0)
	for s := range rs.buf {
		if lowest == 0 || s < lowest {
			lowest = s
		}
	}
	if lowest == 0 {
		return
	}
	c.stats.reliableSkipped.Add(lowest - rs.next)
	c.log.Warn("reliable messages lost, skipping", "missing", lowest-rs.next)
	rs.next = lowest
	rs.drain(c)
}

// sweep releases streams stuck behind a gap older than gapTimeout. The
// delivery may block on a full queue, so it runs on its own goroutine.
func (t *receiverTable) sweep(c *Cluster) {
	t.mu.Lock()
	var stuck []*recvStream
	for _, rs := range t.senders {
		if rs.mu.TryLock() {
			if !rs.gapSince.IsZero() && time.Since(rs.gapSince) > gapTimeout {
				stuck = append(stuck, rs)
			}
			rs.mu.Unlock()
		}
	}
	t.mu.Unlock()
	for _, rs := range stuck {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if !rs.gapSince.IsZero() && time.Since(rs.gapSince) > gapTimeout {
				rs.skipGap(c)
			}
		}()
	}
}
