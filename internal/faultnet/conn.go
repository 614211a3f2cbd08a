package faultnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// ErrConnReset is the error returned by reads and writes on a stream that was
// broken by the network: a partition between its endpoints, the shutdown of
// one of its endpoints, a cut (StreamFaults.Cut, CutStreams, CutAllStreams)
// or Network.Close.
var ErrConnReset = errors.New("faultnet: connection reset by network")

// deadline is a resettable deadline in the style of net.Pipe: wait returns a
// channel that is closed once the deadline has passed.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func newDeadline() *deadline {
	return &deadline{cancel: make(chan struct{})}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// set arms the deadline for t; the zero time disarms it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()

	if d.timer != nil && !d.timer.Stop() {
		// The callback is running or has run: wait until it closed cancel.
		<-d.cancel
	}
	d.timer = nil

	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// stop disarms the deadline without touching the channel, so that no timer
// outlives a closed connection.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel
	}
	d.timer = nil
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

// mark says that the pipe's bytes up to stream offset end become readable
// at readyAt (the zero time: at once).
type mark struct {
	end     int64
	readyAt time.Time
}

// pipe is one direction of a stream: a bounded byte queue with a single
// writer end (node from) and a single reader end (node to). Bytes in flight
// (delayed) and bytes ready to read both count against the limit, as a TCP
// window counts both, so a stalled or slow direction ends up blocking its
// writer.
type pipe struct {
	from, to string // addresses of the writing and the reading node

	mu      sync.Mutex
	buf     bytes.Buffer // bytes written and not yet read, in order
	off     int64        // stream offset of buf's first byte
	marks   []mark       // when buf's bytes become readable; end and readyAt increase
	limit   int
	stalled bool  // nothing is delivered to the reader until resumed
	wclosed bool  // the writing end was closed: the reader sees EOF once drained
	rclosed bool  // the reading end was closed: writes fail
	err     error // the stream was broken: reads and writes fail at once
	changed chan struct{}
}

func newPipe(from, to string, limit int, stalled bool) *pipe {
	return &pipe{from: from, to: to, limit: limit, stalled: stalled, changed: make(chan struct{})}
}

// signal wakes every goroutine blocked on the pipe. Callers hold p.mu.
func (p *pipe) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// take copies ready bytes into b and reports how many; when none is ready
// it also reports how long until some is (zero if nothing is queued).
// Callers hold p.mu.
func (p *pipe) take(b []byte, now time.Time) (int, time.Duration) {
	ready := p.off
	for _, m := range p.marks {
		if m.readyAt.After(now) {
			break
		}
		ready = m.end
	}
	if ready == p.off {
		if len(p.marks) == 0 {
			return 0, 0
		}
		return 0, p.marks[0].readyAt.Sub(now)
	}
	n, _ := p.buf.Read(b[:min(int64(len(b)), ready-p.off)])
	p.off += int64(n)
	for len(p.marks) > 0 && p.marks[0].end <= p.off {
		p.marks = p.marks[1:]
	}
	return n, 0
}

// enqueue appends chunk, readable after delay but never before the bytes
// queued earlier. Callers hold p.mu.
func (p *pipe) enqueue(chunk []byte, delay time.Duration) {
	var ready time.Time
	if delay > 0 {
		ready = time.Now().Add(delay)
	}
	p.buf.Write(chunk)
	end := p.off + int64(p.buf.Len())
	if last := len(p.marks) - 1; last >= 0 && !ready.After(p.marks[last].readyAt) {
		p.marks[last].end = end // readable with the bytes before it
		return
	}
	p.marks = append(p.marks, mark{end: end, readyAt: ready})
}

func (p *pipe) read(b []byte, dl *deadline) (int, error) {
	for {
		timeout := dl.wait()
		var wake time.Duration // > 0: the first queued bytes are ready after it
		p.mu.Lock()
		switch {
		case p.rclosed:
			p.mu.Unlock()
			return 0, net.ErrClosed
		case p.err != nil:
			err := p.err
			p.mu.Unlock()
			return 0, err
		case isClosed(timeout):
			p.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		case p.buf.Len() > 0 && !p.stalled:
			n, wait := p.take(b, time.Now())
			if n > 0 {
				p.signal()
				p.mu.Unlock()
				return n, nil
			}
			wake = max(wait, time.Nanosecond)
		case p.buf.Len() == 0 && p.wclosed:
			p.mu.Unlock()
			return 0, io.EOF
		}
		changed := p.changed
		p.mu.Unlock()

		var ready <-chan time.Time
		var timer *time.Timer
		if wake > 0 {
			timer = time.NewTimer(wake)
			ready = timer.C
		}
		select {
		case <-changed:
		case <-timeout:
		case <-ready:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// check returns the error a write must fail with, if any. Callers hold p.mu.
func (p *pipe) check(timeout <-chan struct{}) error {
	switch {
	case p.wclosed:
		return net.ErrClosed
	case p.err != nil:
		return p.err
	case p.rclosed:
		return io.ErrClosedPipe
	case isClosed(timeout):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// write queues b, each part readable after delay, blocking while the pipe
// is full.
func (p *pipe) write(b []byte, dl *deadline, delay time.Duration) (int, error) {
	written := 0
	for {
		timeout := dl.wait()
		p.mu.Lock()
		if err := p.check(timeout); err != nil {
			p.mu.Unlock()
			return written, err
		}
		if room := p.limit - p.buf.Len(); room > 0 && written < len(b) {
			chunk := b[written:]
			if len(chunk) > room {
				chunk = chunk[:room]
			}
			p.enqueue(chunk, delay)
			written += len(chunk)
			p.signal()
		}
		if written == len(b) {
			p.mu.Unlock()
			return written, nil
		}
		changed := p.changed
		p.mu.Unlock()

		select {
		case <-changed:
		case <-timeout:
		}
	}
}

// discard is a write whose bytes are lost in the network: it fails as a
// write would, and otherwise reports success at once.
func (p *pipe) discard(b []byte, dl *deadline) (int, error) {
	timeout := dl.wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check(timeout); err != nil {
		return 0, err
	}
	return len(b), nil
}

// setStalled stops or resumes delivery to the reader.
func (p *pipe) setStalled(stalled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != stalled {
		p.stalled = stalled
		p.signal()
	}
}

func (p *pipe) closeReader() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.rclosed {
		p.rclosed = true
		p.buf.Reset()
		p.marks = nil
		p.signal()
	}
}

func (p *pipe) closeWriter() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.wclosed {
		p.wclosed = true
		p.signal()
	}
}

func (p *pipe) breakWith(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
		p.buf.Reset()
		p.marks = nil
		p.signal()
	}
}

// stream is a connected pair of Conns between two nodes of a Network.
type stream struct {
	net      *Network
	from, to string // dialer and listener addresses
	a2b, b2a *pipe
	client   *Conn
	server   *Conn

	mu     sync.Mutex
	closed int // number of ends closed by their owner
}

// newStream returns a stream from -> to. Callers hold n.mu.
func newStream(n *Network, from, to *Transport, limit int) *stream {
	s := &stream{
		net:  n,
		from: from.addr,
		to:   to.addr,
		a2b:  newPipe(from.addr, to.addr, limit, n.isStalledLocked(from.addr, to.addr)),
		b2a:  newPipe(to.addr, from.addr, limit, n.isStalledLocked(to.addr, from.addr)),
	}
	s.client = &Conn{
		s:      s,
		rx:     s.b2a,
		tx:     s.a2b,
		local:  from.tcpAddr(),
		remote: to.tcpAddr(),
		rdl:    newDeadline(),
		wdl:    newDeadline(),
	}
	s.server = &Conn{
		s:      s,
		rx:     s.a2b,
		tx:     s.b2a,
		local:  to.tcpAddr(),
		remote: from.tcpAddr(),
		rdl:    newDeadline(),
		wdl:    newDeadline(),
	}
	return s
}

// breakStream fails every pending and future operation on both ends.
func (s *stream) breakStream() {
	s.a2b.breakWith(ErrConnReset)
	s.b2a.breakWith(ErrConnReset)
}

// endClosed records that one end was closed and reports whether both are.
func (s *stream) endClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return s.closed == 2
}

// Conn is one end of an in-memory stream between two nodes. It implements
// net.Conn with working deadlines: an operation that runs past its deadline
// fails with an error for which errors.Is(err, os.ErrDeadlineExceeded) holds
// and whose net.Error Timeout method reports true.
//
// Each direction buffers up to the network's stream buffer size, so writes
// do not wait for the peer to read unless the buffer is full. Bytes delayed
// by StreamFaults or held by StallStreams count against that buffer.
type Conn struct {
	s             *stream
	rx, tx        *pipe
	local, remote net.Addr
	rdl, wdl      *deadline
	closeOnce     sync.Once
}

var _ net.Conn = (*Conn)(nil)

func (c *Conn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "faultnet", Source: c.local, Addr: c.remote, Err: err}
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.rx.read(b, c.rdl)
	return n, c.opError("read", err)
}

// Write implements net.Conn. The network's stream faults (see StreamFaults)
// may discard, duplicate, corrupt or delay the bytes of the call, or reset
// the stream instead of writing.
func (c *Conn) Write(b []byte) (int, error) {
	f := c.s.net.writeFault(c.s, c.tx, b)
	var n int
	var err error
	if f.drop {
		n, err = c.tx.discard(b, c.wdl)
	} else {
		n, err = c.tx.write(f.payload, c.wdl, f.delay)
	}
	// A duplicated payload is twice as long as what the caller wrote.
	return min(n, len(b)), c.opError("write", err)
}

// Close implements net.Conn. The peer reads the remaining buffered data and
// then io.EOF; its writes fail.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.rx.closeReader()
		c.tx.closeWriter()
		c.rdl.stop()
		c.wdl.stop()
		if c.s.endClosed() {
			c.s.net.forgetStream(c.s)
		}
	})
	return nil
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}
