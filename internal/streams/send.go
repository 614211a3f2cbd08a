package streams

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flynn/noise"
	"github.com/hashicorp/memberlist"
)

// errPeerRemoved makes a sender look its peer up again after the janitor
// dropped it.
var errPeerRemoved = errors.New("streams: peer removed")

type entry struct {
	frame []byte
	done  func(error) // SendAsync completion, may be nil
}

// batch is the set of frames queued while the previous batch was being
// written; it is written and flushed as a unit.
type batch struct {
	entries []entry
	bytes   int
	done    chan struct{}
	err     error
}

func (b *batch) finish(err error) {
	b.err = err
	close(b.done)
	for _, e := range b.entries {
		if e.done != nil {
			e.done(err)
		}
	}
}

// peer holds the outbound stream to one address.
//
// Frames are appended to cur under mu. At most one flusher runs at a time
// (flushing is true while it does); it takes cur, writes it and flushes, and
// repeats until nothing is queued. A blocking Send that finds no flusher
// running becomes the flusher itself, so an uncontended Send costs one
// write system call and no goroutine hand-off; it passes the job to a
// goroutine once its own frame is flushed. Whenever cur is non-nil a
// flusher is running.
type peer struct {
	t    *Transport
	addr string

	mu           sync.Mutex
	space        sync.Cond // signalled when queue space frees up or on close
	cur          *batch
	queuedFrames int
	queuedBytes  int
	flushing     bool
	closed       bool // transport shut down
	removed      bool // dropped from the transport's map by the janitor
	cs           *outConn
	lastUsed     time.Time
	// spare is the entries array of the last batch written, emptied: the
	// next batch reuses it, so a stream kept busy allocates no array per
	// batch.
	spare []entry
}

// newBatch starts p.cur. p.mu is held.
func (p *peer) newBatch() {
	p.cur = &batch{entries: p.spare, done: make(chan struct{})}
	p.spare = nil
}

// recycle keeps the entries array of b, which is finished, for the next
// batch. Nobody reads a finished batch's entries: its waiters only read
// done and err.
func (p *peer) recycle(b *batch) {
	if cap(b.entries) > maxSpareEntries {
		return
	}
	clear(b.entries)
	p.mu.Lock()
	if p.spare == nil {
		p.spare = b.entries[:0]
	}
	p.mu.Unlock()
}

// maxSpareEntries bounds the array a peer keeps between batches (32 KiB):
// the engine writes a busy window up to 1,024 frames at a time. A peer
// whose stream idles out is dropped with its array.
const maxSpareEntries = 1024

// outConn is one established outbound stream. Only the running flusher
// writes to it; anyone may close it.
type outConn struct {
	conn      net.Conn
	bw        *bufio.Writer // without a keyring
	plain     *plainWriter  // without a keyring
	seal      *sealer       // with a keyring; writes records to conn
	gone      chan struct{} // closed when watch sees the connection end
	dead      atomic.Bool
	closeOnce sync.Once
}

func (c *outConn) close() {
	c.closeOnce.Do(func() {
		c.dead.Store(true)
		_ = c.conn.Close()
	})
}

func (t *Transport) peer(addr string) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[addr]
	if p == nil {
		p = &peer{t: t, addr: addr, lastUsed: time.Now()}
		p.space.L = &p.mu
		t.peers[addr] = p
	}
	return p
}

// enqueue adds e to the peer's queue, waiting for space. lead reports that
// the caller must start a flusher.
func (p *peer) enqueue(e entry) (b *batch, lead bool, err error) {
	size := len(e.frame)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed {
			return nil, false, ErrShutdown
		}
		if p.removed {
			return nil, false, errPeerRemoved
		}
		if p.queuedFrames == 0 ||
			(p.queuedFrames < p.t.cfg.QueueFrames && p.queuedBytes+size <= p.t.cfg.QueueBytes) {
			break
		}
		p.space.Wait()
	}
	if p.cur == nil {
		p.newBatch()
	}
	b = p.cur
	b.entries = append(b.entries, e)
	b.bytes += size
	p.queuedFrames++
	p.queuedBytes += size
	if !p.flushing {
		p.flushing = true
		lead = true
	}
	return b, lead, nil
}

func (t *Transport) enqueue(addr string, e entry) (*peer, *batch, bool, error) {
	if len(e.frame) > t.cfg.MaxFrameSize {
		return nil, nil, false, ErrFrameTooLarge
	}
	if t.isShutdown() {
		return nil, nil, false, ErrShutdown
	}
	for {
		p := t.peer(addr)
		b, lead, err := p.enqueue(e)
		if err == errPeerRemoved {
			continue
		}
		return p, b, lead, err
	}
}

// Send writes frame to the persistent stream to addr (a memberlist
// "host:port"), dialling it on first use. It returns once the frame has
// been handed to the kernel along with any frames batched with it, or with
// the error that prevented it. Frames sent to one address are delivered in
// the order of the Send calls that queued them; frames from one goroutine
// therefore arrive in program order.
//
// On error the connection is closed and the next Send dials again. A frame
// for which Send returned an error may nonetheless have been delivered, and
// a nil error does not prove the peer's handler ran (the peer can fail
// before reading it): callers that need exactly-once processing must retry
// with their own sequence numbers and deduplicate.
//
// Send blocks while the peer's queue is full (Config.QueueFrames and
// QueueBytes). frame is not retained after Send returns.
func (t *Transport) Send(addr string, frame []byte) error {
	p, b, lead, err := t.enqueue(addr, entry{frame: frame})
	if err != nil {
		t.stats.sendErrors.Add(1)
		return err
	}
	if lead {
		p.run(b)
	}
	<-b.done
	return b.err
}

// SendBatch writes frames to addr in order, as that many Send calls from
// one goroutine would, and returns once all of them have been handed to the
// kernel, or with the first error met (frames before or after the failed
// one may still have been delivered, as with Send). Queued in one step, the
// frames cost one lock round and one batch entry each, with no per-frame
// completion. frames are not retained after SendBatch returns.
func (t *Transport) SendBatch(addr string, frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	size := 0
	for _, f := range frames {
		if len(f) > t.cfg.MaxFrameSize {
			t.stats.sendErrors.Add(uint64(len(frames)))
			return ErrFrameTooLarge
		}
		size += len(f)
	}
	if t.isShutdown() {
		t.stats.sendErrors.Add(uint64(len(frames)))
		return ErrShutdown
	}
	for {
		p := t.peer(addr)
		b, lead, ok, err := p.enqueueAll(frames, size)
		if err == errPeerRemoved {
			continue
		}
		if err != nil {
			t.stats.sendErrors.Add(uint64(len(frames)))
			return err
		}
		if !ok {
			break // no room for all at once: frame by frame below
		}
		if lead {
			p.run(b)
		}
		<-b.done
		return b.err
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	last := len(frames) - 1
	for _, f := range frames[:last] {
		wg.Add(1)
		if err := t.sendAsync(addr, f, func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			wg.Done()
		}); err != nil {
			wg.Done()
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	err := t.Send(addr, frames[last])
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return err
}

// enqueueAll adds every frame to the current batch when the queue has room
// for all of them at once; ok is false (nothing queued) when it has not.
func (p *peer) enqueueAll(frames [][]byte, size int) (b *batch, lead, ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, false, false, ErrShutdown
	case p.removed:
		return nil, false, false, errPeerRemoved
	case p.queuedFrames > 0 && (p.queuedFrames+len(frames) > p.t.cfg.QueueFrames || p.queuedBytes+size > p.t.cfg.QueueBytes):
		return nil, false, false, nil
	}
	if p.cur == nil {
		p.newBatch()
	}
	b = p.cur
	b.entries = slices.Grow(b.entries, len(frames))
	for _, f := range frames {
		b.entries = append(b.entries, entry{frame: f})
	}
	b.bytes += size
	p.queuedFrames += len(frames)
	p.queuedBytes += size
	if !p.flushing {
		p.flushing = true
		lead = true
	}
	return b, lead, true, nil
}

// SendAsync queues a copy of frame for addr like Send but returns without
// waiting for it to be written; it blocks only while the peer's queue is
// full. done, if not nil, is called with the outcome once the frame was
// flushed or failed. done runs on the flusher and must not block or send
// to the same address. Ordering is shared with Send: frames to one address
// are written in the order they were queued.
func (t *Transport) SendAsync(addr string, frame []byte, done func(error)) error {
	cp := make([]byte, len(frame))
	copy(cp, frame)
	return t.sendAsync(addr, cp, done)
}

// SendAsyncShared is SendAsync without the copy: frame is written as it is
// when its turn comes, so the caller must not modify it until done has been
// called (or SendAsyncShared returned an error). It suits frames kept
// unchanged anyway, such as messages held for retransmission, and saves a
// copy of every frame.
func (t *Transport) SendAsyncShared(addr string, frame []byte, done func(error)) error {
	return t.sendAsync(addr, frame, done)
}

func (t *Transport) sendAsync(addr string, frame []byte, done func(error)) error {
	p, _, lead, err := t.enqueue(addr, entry{frame: frame, done: done})
	if err != nil {
		t.stats.sendErrors.Add(1)
		return err
	}
	if lead && !t.spawn(func() { p.run(nil) }) {
		p.run(nil) // shutting down: fails the queue at once
	}
	return nil
}

// Ready reports whether the stream to addr is established and idle: its
// connection is open with room left in its session, and no frames are
// queued or being written. A Send issued then writes on the calling
// goroutine at once, without dialling (unless the connection fails in the
// meantime), so a caller with a deadline shorter than DialTimeout can
// write inline when Ready and leave the rest to a goroutine.
func (t *Transport) Ready(addr string) bool {
	t.mu.Lock()
	p := t.peers[addr]
	t.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := p.cs
	if p.closed || p.removed || p.flushing || p.cur != nil || cs == nil || cs.dead.Load() {
		return false
	}
	// No flusher runs, so the sealer's counters are not being written.
	return cs.seal == nil || cs.seal.records+cs.seal.recordsFor(t.cfg.MaxFrameSize) <= cs.seal.lim.maxRecords
}

// ClosePeer closes the stream to addr, if any. Frames being written fail;
// the next Send dials a new connection.
func (t *Transport) ClosePeer(addr string) {
	t.mu.Lock()
	p := t.peers[addr]
	t.mu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	cs := p.cs
	p.cs = nil
	p.mu.Unlock()
	if cs != nil {
		cs.close()
	}
}

// run is the flusher loop. With own set (an inline Send) it returns once
// own is written, handing any remaining queue to a goroutine.
func (p *peer) run(own *batch) {
	ownDone := false
	for {
		p.mu.Lock()
		b := p.cur
		if b == nil || p.closed {
			p.cur = nil
			p.queuedFrames, p.queuedBytes = 0, 0
			p.flushing = false
			p.lastUsed = time.Now()
			p.space.Broadcast()
			p.mu.Unlock()
			if b != nil {
				p.t.stats.sendErrors.Add(uint64(len(b.entries)))
				b.finish(ErrShutdown)
			}
			return
		}
		if ownDone {
			if p.t.spawn(func() { p.run(nil) }) {
				p.mu.Unlock()
				return
			}
			// The transport is shutting down; the next pass fails the queue.
			p.closed = true
			p.mu.Unlock()
			continue
		}
		p.cur = nil
		p.queuedFrames -= len(b.entries)
		p.queuedBytes -= b.bytes
		p.space.Broadcast()
		cs := p.cs
		p.mu.Unlock()

		p.write(cs, b)
		if b == own {
			ownDone = true
		}
		p.recycle(b)
	}
}

// write sends one batch, dialling first if needed, and completes it.
func (p *peer) write(cs *outConn, b *batch) {
	var err error
	if cs != nil && cs.seal != nil && cs.seal.records+cs.seal.recordsFor(b.bytes+10*len(b.entries)) > cs.seal.lim.maxRecords {
		// The session's record budget is spent: start a new one once the
		// peer has read this one to its end, so that its last frames reach
		// the handler before the new session's first.
		p.retire(cs)
	}
	if cs == nil || cs.dead.Load() {
		cs, err = p.connect()
	}
	if err == nil {
		err = cs.writeBatch(b, p.t.cfg.WriteTimeout)
		if err != nil {
			cs.close()
			p.dropConn(cs)
			p.t.plog.Warn("stream write failed", "peer", p.addr, "frames", len(b.entries), "err", err)
		}
	}
	if err != nil {
		p.t.stats.sendErrors.Add(uint64(len(b.entries)))
	} else {
		p.t.stats.framesSent.Add(uint64(len(b.entries)))
		p.t.stats.bytesSent.Add(uint64(b.bytes))
	}
	b.finish(err)
}

// retire ends a healthy connection in order: it half-closes it, so the
// peer reads every frame written and then sees the end of the stream, and
// waits (up to WriteTimeout) until the peer has closed it in turn, which it
// does only after handing the last frame to its handler. The peer reads
// each connection on its own goroutine, so a new connection dialled before
// that could have frames delivered ahead of the old one's last.
func (p *peer) retire(cs *outConn) {
	p.dropConn(cs)
	if hc, ok := cs.conn.(interface{ CloseWrite() error }); ok && !cs.dead.Load() && hc.CloseWrite() == nil {
		timer := time.NewTimer(p.t.cfg.WriteTimeout)
		select {
		case <-cs.gone:
		case <-timer.C:
			p.t.plog.Warn("stream not closed by peer after its session ended", "peer", p.addr)
		case <-p.t.shutdownCh:
		}
		timer.Stop()
	}
	cs.close()
}

func (p *peer) dropConn(cs *outConn) {
	p.mu.Lock()
	if p.cs == cs {
		p.cs = nil
	}
	p.mu.Unlock()
}

// connect dials addr, performs the handshake and installs the connection.
func (p *peer) connect() (*outConn, error) {
	t := p.t
	conn, err := t.inner.DialAddressTimeout(memberlist.Address{Addr: p.addr}, t.cfg.DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("streams: dial %s: %w", p.addr, err)
	}
	cs, err := t.handshake(conn)
	if err != nil {
		_ = conn.Close()
		t.stats.handshakeFailures.Add(1)
		return nil, fmt.Errorf("streams: handshake with %s: %w", p.addr, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = conn.Close()
		return nil, ErrShutdown
	}
	old := p.cs
	p.cs = cs
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	if !t.spawn(func() { p.watch(cs) }) {
		cs.close()
		return nil, ErrShutdown
	}
	t.stats.connsOpened.Add(1)
	t.log.Debug("stream connected", "peer", p.addr, "local", conn.LocalAddr())
	return cs, nil
}

// handshake runs the dialer's side of the handshake on conn, each stage
// under its own deadline, and returns the stream ready for frames.
func (t *Transport) handshake(conn net.Conn) (*outConn, error) {
	encrypted := t.cfg.Keyring != nil
	hello := appendHello(make([]byte, 0, helloLen+2+maxHandshakeMsg), encrypted, &t.digest)
	out := hello
	var hs *noise.HandshakeState
	if encrypted {
		var err error
		if out, hs, err = startHandshake(out, t.cfg.Keyring, &t.psks, hello[:helloLen]); err != nil {
			return nil, err
		}
	}
	_ = conn.SetWriteDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if err := readReply(conn); err != nil {
		return nil, err
	}
	cs := &outConn{conn: conn, gone: make(chan struct{})}
	if encrypted {
		_ = conn.SetReadDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
		send, err := finishHandshake(conn, hs)
		if err != nil {
			return nil, err
		}
		cs.seal = newSealer(conn, send, &t.limits, t.cfg.WriteBufferSize)
		cs.seal.rekeys = &t.stats.rekeys
	} else {
		cs.bw = bufio.NewWriterSize(conn, t.cfg.WriteBufferSize)
		cs.plain = &plainWriter{w: cs.bw}
	}
	_ = conn.SetDeadline(time.Time{})
	return cs, nil
}

// watch reads the (otherwise write-only) connection so that a peer closing
// or resetting it is noticed before the next write.
func (p *peer) watch(cs *outConn) {
	defer close(cs.gone)
	var buf [1]byte
	n, err := cs.conn.Read(buf[:])
	if !cs.dead.Load() {
		if n > 0 {
			p.t.plog.Warn("unexpected data on outbound stream", "peer", p.addr)
		} else {
			p.t.log.Debug("outbound stream closed by peer", "peer", p.addr, "err", err)
		}
	}
	cs.close()
	p.dropConn(cs)
}

// writeBatch writes and flushes every frame of b: with encryption the
// frames are packed into as few records as they fit in.
func (c *outConn) writeBatch(b *batch, timeout time.Duration) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	for _, e := range b.entries {
		var err error
		if c.seal != nil {
			err = c.seal.writeFrame(e.frame)
		} else {
			err = c.plain.writeFrame(e.frame)
		}
		if err != nil {
			return err
		}
	}
	if c.dead.Load() {
		return ErrPeerClosed
	}
	if c.seal != nil {
		return c.seal.flush()
	}
	return c.bw.Flush()
}

// shutdown marks the peer closed and closes its connection; a running
// flusher fails whatever is queued.
func (p *peer) shutdown() {
	p.mu.Lock()
	p.closed = true
	cs := p.cs
	p.cs = nil
	p.space.Broadcast()
	p.mu.Unlock()
	if cs != nil {
		cs.close()
	}
}

// reapIdle closes the connection of a peer unused for idle and reports
// whether the peer can be forgotten. Called with t.mu held.
func (p *peer) reapIdle(now time.Time, idle time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flushing || p.cur != nil || now.Sub(p.lastUsed) < idle {
		return false
	}
	if p.cs != nil {
		if !p.cs.dead.Load() {
			p.t.stats.idleClosed.Add(1)
			p.t.log.Debug("closing idle stream", "peer", p.addr)
		}
		p.cs.close()
		p.cs = nil
	}
	p.removed = true
	return true
}
