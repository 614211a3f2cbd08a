package streams

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"

	"github.com/flynn/noise"
)

// demux takes inner's inbound connections and routes each on its own
// goroutine, after admitting it against the inbound caps. It runs until
// inner has shut down, closing whatever arrives once Shutdown has started.
func (t *Transport) demux() {
	in := t.inner.StreamCh()
	for {
		select {
		case c := <-in:
			if t.isShutdown() {
				_ = c.Close()
				continue
			}
			ac, ok := t.admit(c)
			if !ok {
				continue
			}
			if !t.spawn(func() { t.route(ac) }) {
				_ = ac.Close()
			}
		case <-t.demuxStop:
			return
		}
	}
}

// admit applies the inbound caps: a connection over a cap is closed at
// once and counted.
func (t *Transport) admit(c net.Conn) (net.Conn, bool) {
	from := c.RemoteAddr()
	switch t.limiter.acquire(from) {
	case refusedTotal:
		_ = c.Close()
		t.stats.connsRefused.Add(1)
		t.plog.Warn("inbound connection refused: too many open", "remote", from, "max", t.cfg.MaxInbound)
		return nil, false
	case refusedSource:
		_ = c.Close()
		t.stats.connsRefused.Add(1)
		t.stats.connsRefusedSource.Add(1)
		t.plog.Warn("inbound connection refused: too many from one source", "remote", from, "max_per_source", t.cfg.MaxInboundPerSource)
		return nil, false
	}
	return &admittedConn{Conn: c, release: func() { t.limiter.release(from) }}, true
}

func (t *Transport) track(c net.Conn) bool {
	t.inMu.Lock()
	defer t.inMu.Unlock()
	if t.isShutdown() {
		return false
	}
	t.inbound[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	t.inMu.Lock()
	delete(t.inbound, c)
	t.inMu.Unlock()
}

// route peeks at the first byte of an inbound connection: stream
// connections are served here, anything else goes to memberlist.
func (t *Transport) route(c net.Conn) {
	if !t.track(c) {
		_ = c.Close()
		return
	}
	var hello [helloLen]byte
	_ = c.SetReadDeadline(time.Now().Add(t.cfg.PeekTimeout))
	if _, err := io.ReadFull(c, hello[:1]); err != nil {
		t.untrack(c)
		_ = c.Close()
		t.plog.Debug("inbound connection sent nothing", "remote", c.RemoteAddr(), "err", err)
		return
	}
	if hello[0] != magic[0] {
		t.forward(c, hello[:1])
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if n, err := io.ReadFull(c, hello[1:4]); err != nil || [4]byte(hello[:4]) != magic {
		if err != nil {
			// Too short for either protocol to make sense of.
			t.untrack(c)
			_ = c.Close()
			return
		}
		t.forward(c, hello[:1+n])
		return
	}
	defer func() {
		t.untrack(c)
		_ = c.Close()
	}()
	if _, err := io.ReadFull(c, hello[4:]); err != nil {
		t.stats.handshakeFailures.Add(1)
		t.plog.Warn("stream handshake truncated", "remote", c.RemoteAddr(), "err", err)
		return
	}
	t.serve(c, &hello)
}

// forward hands a connection to memberlist with the peeked bytes replayed,
// once Config.ForwardFilter (if any) has passed it.
func (t *Transport) forward(c net.Conn, peeked []byte) {
	replay := append([]byte(nil), peeked...)
	if t.cfg.ForwardFilter != nil {
		var err error
		if replay, err = t.cfg.ForwardFilter(c, replay); err != nil {
			t.untrack(c)
			_ = c.Close()
			t.stats.connsFiltered.Add(1)
			t.plog.Debug("inbound connection refused before memberlist", "remote", c.RemoteAddr(), "err", err)
			return
		}
	}
	t.untrack(c)
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{peeked: replay, Conn: c}
	select {
	case t.streamCh <- pc:
		t.stats.connsForwarded.Add(1)
	case <-t.shutdownCh:
		_ = c.Close()
	}
}

// accept completes the acceptor's side of the handshake of an inbound
// stream: it answers the hello and, with encryption, the Noise message
// that follows it. It returns the receiving cipher state (nil without
// encryption) and whether the stream was accepted.
func (t *Transport) accept(c net.Conn, hello *[helloLen]byte) (*noise.CipherState, bool) {
	from := c.RemoteAddr()
	encrypted := t.cfg.Keyring != nil
	status := helloStatus(hello, encrypted, &t.digest)
	reply := append(make([]byte, 0, replyLen+2+maxHandshakeMsg), magic[:]...)
	var recv *noise.CipherState
	if status == statusOK && encrypted {
		msg1, err := readHandshakeMsg(c) // under route's handshake deadline
		if err != nil {
			t.stats.handshakeFailures.Add(1)
			t.plog.Warn("stream handshake truncated", "remote", from, "err", err)
			return nil, false
		}
		answer, cs, err := acceptHandshake(append(reply, statusOK), msg1, t.cfg.Keyring, &t.psks, hello[:])
		if err != nil {
			status = statusKeyMismatch
			t.stats.decryptFailures.Add(1)
		} else {
			reply, recv = answer, cs
		}
	}
	if recv == nil {
		reply = append(reply, status) // no Noise answer follows
	}
	_ = c.SetWriteDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if _, err := c.Write(reply); err != nil {
		t.stats.handshakeFailures.Add(1)
		t.plog.Warn("stream handshake reply failed", "remote", from, "err", err)
		return nil, false
	}
	if status != statusOK {
		t.stats.handshakeFailures.Add(1)
		t.plog.Warn("stream handshake refused", "remote", from, "reason", (&HandshakeError{Status: status}).Error())
		return nil, false
	}
	return recv, true
}

// frameSource is where an inbound stream's frames are parsed from: the
// buffered connection, or the plaintext of its records.
type frameSource interface {
	io.Reader
	io.ByteReader
}

// serve completes the handshake of an inbound stream and delivers its
// frames to the handler until the stream ends, misbehaves or stays idle
// past InboundIdleTimeout.
func (t *Transport) serve(c net.Conn, hello *[helloLen]byte) {
	from := c.RemoteAddr()
	recv, ok := t.accept(c, hello)
	if !ok {
		return
	}
	_ = c.SetDeadline(time.Time{})
	t.stats.connsAccepted.Add(1)
	t.log.Debug("stream accepted", "remote", from)

	br := bufio.NewReaderSize(&idleReader{c: c, timeout: t.cfg.InboundIdleTimeout}, t.cfg.ReadBufferSize)
	var src frameSource = br
	var check *plainReader
	if recv != nil {
		op := newOpener(br, recv, &t.limits)
		op.rekeys = &t.stats.rekeys
		src = op
	} else {
		check = &plainReader{r: br}
	}
	maxFrame := uint64(t.cfg.MaxFrameSize)
	for {
		if f, ok, err := nextInPlace(src, check, maxFrame); err != nil {
			t.readEnd(from, err)
			return
		} else if ok {
			// The handler owns its frame: copy it out of the buffer.
			t.deliverFrame(from, append(make([]byte, 0, len(f)), f...))
			continue
		}
		n, err := binary.ReadUvarint(src)
		if err != nil {
			t.readEnd(from, err)
			return
		}
		if n > maxFrame {
			t.stats.oversizeFrames.Add(1)
			t.plog.Warn("stream frame exceeds MaxFrameSize, closing", "remote", from, "claimed", n, "max", maxFrame)
			return
		}
		frame, err := readFrame(src, int(n))
		if err == nil && check != nil {
			err = check.checkFrame(n, frame)
		}
		if err != nil {
			t.readEnd(from, err)
			return
		}
		t.deliverFrame(from, frame)
	}
}

// deliverFrame counts an inbound frame and hands it to the handler.
func (t *Transport) deliverFrame(from net.Addr, frame []byte) {
	t.stats.framesReceived.Add(1)
	t.stats.bytesReceived.Add(uint64(len(frame)))
	if h := t.cfg.Handler; h != nil {
		h(from, frame)
	}
}

// readEnd counts and logs why an inbound stream ended.
func (t *Transport) readEnd(from net.Addr, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || t.isShutdown() || errors.Is(err, net.ErrClosed):
		t.log.Debug("stream closed", "remote", from)
	case errors.As(err, &ne) && ne.Timeout():
		t.stats.inboundIdleClosed.Add(1)
		t.log.Debug("closing idle inbound stream", "remote", from, "idle", t.cfg.InboundIdleTimeout)
	case errors.Is(err, errRecordAuth):
		t.stats.decryptFailures.Add(1)
		t.plog.Warn("stream record failed to authenticate, closing", "remote", from)
	case errors.Is(err, errBadCRC):
		t.stats.corruptFrames.Add(1)
		t.plog.Warn("stream frame failed its checksum, closing", "remote", from)
	case errors.Is(err, errSessionExhausted):
		t.plog.Warn("stream session exceeded its record limit, closing", "remote", from)
	default:
		t.plog.Warn("stream read failed", "remote", from, "err", err)
	}
}

// idleReader arms the read deadline before every read of the connection:
// a stream that sends nothing for timeout fails its read and is closed.
// Reads are buffered, so this costs a timer update per buffer fill, not
// per frame. The time a handler blocks does not count.
type idleReader struct {
	c       net.Conn
	timeout time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.timeout)); err != nil {
		return 0, err
	}
	return r.c.Read(p)
}

// readChunk bounds how much is allocated ahead of the data actually
// arriving, so a large length claim costs memory only as it is backed by
// bytes on the wire.
const readChunk = 1 << 20

func readFrame(r io.Reader, n int) ([]byte, error) {
	if n <= readChunk {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, unexpectedEOF(err)
	}
	buf := make([]byte, 0, readChunk)
	for len(buf) < n {
		m := min(n-len(buf), readChunk)
		buf = append(buf, make([]byte, m)...)
		if _, err := io.ReadFull(r, buf[len(buf)-m:]); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return buf, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
