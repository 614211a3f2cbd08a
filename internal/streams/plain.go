package streams

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// castagnoli is CRC-32C, computed with the CPU's CRC instruction where
// there is one (SSE 4.2, ARMv8): cheap next to a system call per batch.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadCRC reports a plaintext frame whose checksum does not match.
var errBadCRC = errors.New("streams: frame checksum mismatch")

// frameCRC is the checksum of frame number index with length prefix hdr.
// The index is not sent: a frame lost or repeated as a whole shifts it and
// fails the check as surely as a corrupted byte.
// scratch is the header scratch space of a frame: the index prefix of
// the checksum input, then the length bytes, then the checksum. Kept in
// the (heap) reader and writer so no frame allocates.
type scratch [8 + binary.MaxVarintLen64 + crcLen]byte

// frameCRC is the checksum of frame number index with length n. The
// index is not sent: a frame lost or repeated as a whole shifts it and
// fails the check as surely as a corrupted byte. It leaves the length
// prefix in s[8:8+returned length].
func (s *scratch) frameCRC(index, n uint64, frame []byte) (uint32, int) {
	binary.BigEndian.PutUint64(s[:8], index)
	l := binary.PutUvarint(s[8:], n)
	crc := crc32.Update(0, castagnoli, s[:8+l])
	return crc32.Update(crc, castagnoli, frame), l
}

// plainWriter writes checksummed frames to a buffered connection.
type plainWriter struct {
	w     *bufio.Writer
	index uint64
	s     scratch
}

func (p *plainWriter) writeFrame(frame []byte) error {
	crc, l := p.s.frameCRC(p.index, uint64(len(frame)), frame)
	p.index++
	if _, err := p.w.Write(p.s[8 : 8+l]); err != nil {
		return err
	}
	if _, err := p.w.Write(frame); err != nil {
		return err
	}
	c := p.s[len(p.s)-crcLen:]
	binary.BigEndian.PutUint32(c, crc)
	_, err := p.w.Write(c)
	return err
}

// plainReader reads checksummed frames.
type plainReader struct {
	r     *bufio.Reader
	index uint64
	s     scratch
}

// checkFrame reads the checksum that follows frame and verifies it.
func (p *plainReader) checkFrame(n uint64, frame []byte) error {
	c := p.s[len(p.s)-crcLen:]
	if _, err := io.ReadFull(p.r, c); err != nil {
		return unexpectedEOF(err)
	}
	got := binary.BigEndian.Uint32(c)
	if want, _ := p.s.frameCRC(p.index, n, frame); got != want {
		return errBadCRC
	}
	p.index++
	return nil
}
