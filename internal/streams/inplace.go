package streams

import (
	"bufio"
	"encoding/binary"
)

// nextInPlace parses the next frame of an inbound stream when it lies whole
// in bytes already read: the reader's buffer (plain, checksum included,
// which it verifies) or the current record's plaintext (sealed). The frame
// aliases that buffer and is valid until the next read. ok is false when
// the frame is not whole there, or claims more than maxFrame: the caller
// then parses it the general way (readUvarint, readFrame), which also
// deals with the oversize claim. Parsing in place saves the per-byte
// interface calls of binary.ReadUvarint and a copy through io.ReadFull for
// every small frame.
func nextInPlace(src frameSource, check *plainReader, maxFrame uint64) (frame []byte, ok bool, err error) {
	if check == nil {
		o, isOpener := src.(*opener)
		if !isOpener || len(o.plain) == 0 {
			return nil, false, nil
		}
		n, l := binary.Uvarint(o.plain)
		if l <= 0 || n > maxFrame || n > uint64(len(o.plain)-l) {
			return nil, false, nil
		}
		frame = o.plain[l : l+int(n)]
		o.plain = o.plain[l+int(n):]
		return frame, true, nil
	}
	br := check.r
	buf := peekBuffered(br)
	if len(buf) == 0 {
		// One read of the connection, as the general path would do.
		if _, err := br.Peek(1); err != nil {
			return nil, false, err
		}
		buf = peekBuffered(br)
	}
	n, l := binary.Uvarint(buf)
	if l <= 0 || n > maxFrame || len(buf) < l+crcLen || n > uint64(len(buf)-l-crcLen) {
		return nil, false, nil
	}
	end := l + int(n)
	frame = buf[l:end]
	got := binary.BigEndian.Uint32(buf[end:])
	if want, _ := check.s.frameCRC(check.index, n, frame); got != want {
		return nil, false, errBadCRC
	}
	check.index++
	_, _ = br.Discard(end + crcLen)
	return frame, true, nil
}

// peekBuffered is what br holds without reading.
func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}
