package streams

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"

	"github.com/hashicorp/memberlist"
)

// Raw frame pairs.
//
// A FrameWriter and FrameReader speak the stream wire format (checksummed
// frames, or frames packed into sealed records of a Noise session) straight
// over a connection, without the Transport's queues, goroutines or
// dialling. They exist to measure what the wire itself allows with this
// package's own framing and cipher: the limit the Transport's throughput is
// compared against (cmd/gossip-bench). They are not a second transport.

// FrameWriter writes frames to one connection. Not safe for concurrent use.
type FrameWriter struct {
	bw    *bufio.Writer
	plain *plainWriter
	seal  *sealer
}

// FrameReader reads the frames a FrameWriter wrote. Not safe for
// concurrent use.
type FrameReader struct {
	src   frameSource
	check *plainReader
	buf   []byte
}

// NewFramePair returns a writer on w and a reader on r joined by one
// stream session: with a keyring, the sealed format under the keys of a
// Noise NNpsk0 handshake run between the two ends (in memory: only the
// records travel on the connection); without one, checksummed frames.
// bufSize sizes the buffers (and the first record) like
// Config.WriteBufferSize.
func NewFramePair(w, r net.Conn, kr *memberlist.Keyring, bufSize int) (*FrameWriter, *FrameReader, error) {
	if bufSize <= 0 {
		bufSize = DefaultWriteBufferSize
	}
	fw := &FrameWriter{}
	br := bufio.NewReaderSize(r, bufSize)
	fr := &FrameReader{}
	if kr == nil {
		fw.bw = bufio.NewWriterSize(w, bufSize)
		fw.plain = &plainWriter{w: fw.bw}
		fr.src, fr.check = br, &plainReader{r: br}
		return fw, fr, nil
	}
	digest := labelDigest("")
	var psks pskCache
	hello := appendHello(nil, true, &digest)
	msg1, hs, err := startHandshake(nil, kr, &psks, hello)
	if err != nil {
		return nil, nil, err
	}
	answer, recv, err := acceptHandshake(nil, msg1[2:], kr, &psks, hello)
	if err != nil {
		return nil, nil, err
	}
	send, err := finishHandshake(bytes.NewReader(answer), hs)
	if err != nil {
		return nil, nil, err
	}
	fw.seal = newSealer(w, send, &defaultLimits, bufSize)
	fr.src = newOpener(br, recv, &defaultLimits)
	return fw, fr, nil
}

// WriteBatch writes frames and flushes them as the Transport writes one
// batch: into one buffer (plain) or as few records as they fit (sealed),
// then to the connection.
func (w *FrameWriter) WriteBatch(frames [][]byte) error {
	for _, f := range frames {
		var err error
		if w.seal != nil {
			err = w.seal.writeFrame(f)
		} else {
			err = w.plain.writeFrame(f)
		}
		if err != nil {
			return err
		}
	}
	if w.seal != nil {
		return w.seal.flush()
	}
	return w.bw.Flush()
}

// errRawFrameSize reports a frame claim beyond the default MaxFrameSize.
var errRawFrameSize = errors.New("streams: frame larger than DefaultMaxFrameSize")

// Next reads, checks (checksum or record authentication) and returns the
// next frame, parsed in place when it lies whole in what was read (as the
// Transport's reader does). The slice is valid until the next call.
func (r *FrameReader) Next() ([]byte, error) {
	if f, ok, err := nextInPlace(r.src, r.check, DefaultMaxFrameSize); ok || err != nil {
		return f, err
	}
	n, err := binary.ReadUvarint(r.src)
	if err != nil {
		return nil, err
	}
	if n > DefaultMaxFrameSize {
		return nil, errRawFrameSize
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	frame := r.buf[:n]
	if _, err := io.ReadFull(r.src, frame); err != nil {
		return nil, unexpectedEOF(err)
	}
	if r.check != nil {
		if err := r.check.checkFrame(n, frame); err != nil {
			return nil, err
		}
	}
	return frame, nil
}
