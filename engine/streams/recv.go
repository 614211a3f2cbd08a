package streams

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
)

// demux takes inner's inbound connections and routes each on its own
// goroutine. It runs until inner has shut down, closing whatever arrives
// once Shutdown has started.
func (t *Transport) demux() {
	in := t.inner.StreamCh()
	for {
		select {
		case c := <-in:
			if t.isShutdown() || !t.spawn(func() { t.route(c) }) {
				_ = c.Close()
			}
		case <-t.demuxStop:
			return
		}
	}
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
		t.log.Debug("inbound connection sent nothing", "remote", c.RemoteAddr(), "err", err)
		return
	}
	if hello[0] != magic[0] {
		t.forward(c, hello[:1])
		return
	}
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
		t.log.Warn("stream handshake truncated", "remote", c.RemoteAddr(), "err", err)
		return
	}
	t.serve(c, &hello)
}

// forward hands a connection to memberlist with the peeked bytes replayed.
func (t *Transport) forward(c net.Conn, peeked []byte) {
	t.untrack(c)
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{peeked: append([]byte(nil), peeked...), Conn: c}
	select {
	case t.streamCh <- pc:
		t.stats.connsForwarded.Add(1)
	case <-t.shutdownCh:
		_ = c.Close()
	}
}

// serve completes the handshake of an inbound stream and delivers its
// frames to the handler until the stream ends or misbehaves.
func (t *Transport) serve(c net.Conn, hello *[helloLen]byte) {
	from := c.RemoteAddr()
	encrypted := hello[5]&flagEncrypted != 0
	status := statusOK
	switch {
	case hello[4] != protoVersion:
		status = statusBadVersion
	case encrypted != (t.cfg.Keyring != nil):
		status = statusEncryptionMismatch
	case !bytes.Equal(hello[6:], t.digest[:]):
		status = statusLabelMismatch
	}
	var reply [replyLen]byte
	copy(reply[:], magic[:])
	reply[4] = status
	if _, err := rand.Read(reply[5:]); err != nil {
		t.log.Error("stream session id", "err", err)
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(t.cfg.PeekTimeout))
	if _, err := c.Write(reply[:]); err != nil {
		t.stats.handshakeFailures.Add(1)
		t.log.Warn("stream handshake reply failed", "remote", from, "err", err)
		return
	}
	if status != statusOK {
		t.stats.handshakeFailures.Add(1)
		t.log.Warn("stream handshake refused", "remote", from, "reason", (&HandshakeError{Status: status}).Error())
		return
	}
	br := bufio.NewReaderSize(c, t.cfg.ReadBufferSize)
	var op *opener
	maxWire := uint64(t.cfg.MaxFrameSize)
	if encrypted {
		session := [sessionLen]byte(reply[5:])
		op = newOpener(t.cfg.Keyring, &t.aeads, &t.digest, &session)
		maxWire += encOverhead
		if !t.checkAuth(c, br, op) {
			return
		}
	}
	_ = c.SetDeadline(time.Time{})
	t.stats.connsAccepted.Add(1)
	t.log.Debug("stream accepted", "remote", from)
	for {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			t.logReadEnd(from, err)
			return
		}
		if n > maxWire {
			t.stats.oversizeFrames.Add(1)
			t.log.Error("stream frame exceeds MaxFrameSize, closing", "remote", from, "claimed", n, "max", maxWire)
			return
		}
		frame, err := readFrame(br, int(n))
		if err != nil {
			t.logReadEnd(from, err)
			return
		}
		if op != nil {
			if frame, err = op.open(frame); err != nil {
				t.stats.decryptFailures.Add(1)
				t.log.Warn("stream frame failed to decrypt, closing", "remote", from)
				return
			}
		}
		t.stats.framesReceived.Add(1)
		t.stats.bytesReceived.Add(uint64(len(frame)))
		if h := t.cfg.Handler; h != nil {
			h(from, frame)
		}
	}
}

// checkAuth reads the sealed empty frame that opens an encrypted stream and
// answers with the verdict.
func (t *Transport) checkAuth(c net.Conn, br *bufio.Reader, op *opener) bool {
	from := c.RemoteAddr()
	n, err := binary.ReadUvarint(br)
	if err != nil || n != encOverhead {
		t.stats.handshakeFailures.Add(1)
		t.log.Warn("stream key proof missing", "remote", from, "err", err)
		return false
	}
	var proof [encOverhead]byte
	if _, err := io.ReadFull(br, proof[:]); err != nil {
		t.stats.handshakeFailures.Add(1)
		t.log.Warn("stream key proof truncated", "remote", from, "err", err)
		return false
	}
	status := statusOK
	if _, err := op.open(proof[:]); err != nil {
		status = statusKeyMismatch
		t.stats.decryptFailures.Add(1)
		t.stats.handshakeFailures.Add(1)
		t.log.Warn("stream key proof failed to decrypt, closing", "remote", from)
	}
	if _, err := c.Write([]byte{status}); err != nil || status != statusOK {
		return false
	}
	return true
}

func (t *Transport) logReadEnd(from net.Addr, err error) {
	if errors.Is(err, io.EOF) || t.isShutdown() || errors.Is(err, net.ErrClosed) {
		t.log.Debug("stream closed", "remote", from)
		return
	}
	t.log.Warn("stream read failed", "remote", from, "err", err)
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
