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
// one of its endpoints, or Network.Close.
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

// pipe is one direction of a stream: a bounded byte buffer with a single
// writer end and a single reader end.
type pipe struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	wclosed bool  // the writing end was closed: the reader sees EOF once drained
	rclosed bool  // the reading end was closed: writes fail
	err     error // the stream was broken: reads and writes fail at once
	changed chan struct{}
}

func newPipe(limit int) *pipe {
	return &pipe{limit: limit, changed: make(chan struct{})}
}

// signal wakes every goroutine blocked on the pipe. Callers hold p.mu.
func (p *pipe) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *pipe) read(b []byte, dl *deadline) (int, error) {
	for {
		timeout := dl.wait()
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
		case p.buf.Len() > 0:
			n, _ := p.buf.Read(b)
			p.signal()
			p.mu.Unlock()
			return n, nil
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		case p.wclosed:
			p.mu.Unlock()
			return 0, io.EOF
		}
		changed := p.changed
		p.mu.Unlock()

		select {
		case <-changed:
		case <-timeout:
		}
	}
}

func (p *pipe) write(b []byte, dl *deadline) (int, error) {
	written := 0
	for {
		timeout := dl.wait()
		p.mu.Lock()
		switch {
		case p.wclosed:
			p.mu.Unlock()
			return written, net.ErrClosed
		case p.err != nil:
			err := p.err
			p.mu.Unlock()
			return written, err
		case p.rclosed:
			p.mu.Unlock()
			return written, io.ErrClosedPipe
		case isClosed(timeout):
			p.mu.Unlock()
			return written, os.ErrDeadlineExceeded
		}
		if room := p.limit - p.buf.Len(); room > 0 {
			chunk := b[written:]
			if len(chunk) > room {
				chunk = chunk[:room]
			}
			p.buf.Write(chunk)
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

func (p *pipe) closeReader() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.rclosed {
		p.rclosed = true
		p.buf.Reset()
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

func newStream(n *Network, from, to *Transport, limit int) *stream {
	s := &stream{
		net:  n,
		from: from.addr,
		to:   to.addr,
		a2b:  newPipe(limit),
		b2a:  newPipe(limit),
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
// do not wait for the peer to read unless the buffer is full.
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

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.tx.write(b, c.wdl)
	return n, c.opError("write", err)
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
