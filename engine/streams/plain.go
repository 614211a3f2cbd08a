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
func frameCRC(index uint64, hdr, frame []byte) uint32 {
	var idx [8]byte
	binary.BigEndian.PutUint64(idx[:], index)
	crc := crc32.Update(0, castagnoli, idx[:])
	crc = crc32.Update(crc, castagnoli, hdr)
	return crc32.Update(crc, castagnoli, frame)
}

// plainWriter writes checksummed frames to a buffered connection.
type plainWriter struct {
	w     *bufio.Writer
	index uint64
}

func (p *plainWriter) writeFrame(frame []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	h := hdr[:binary.PutUvarint(hdr[:], uint64(len(frame)))]
	crc := frameCRC(p.index, h, frame)
	p.index++
	if _, err := p.w.Write(h); err != nil {
		return err
	}
	if _, err := p.w.Write(frame); err != nil {
		return err
	}
	var c [crcLen]byte
	binary.BigEndian.PutUint32(c[:], crc)
	_, err := p.w.Write(c[:])
	return err
}

// plainReader reads checksummed frames.
type plainReader struct {
	r     *bufio.Reader
	index uint64
}

// checkFrame reads the checksum that follows frame and verifies it.
func (p *plainReader) checkFrame(n uint64, frame []byte) error {
	var c [crcLen]byte
	if _, err := io.ReadFull(p.r, c[:]); err != nil {
		return unexpectedEOF(err)
	}
	var hdr [binary.MaxVarintLen64]byte
	h := hdr[:binary.PutUvarint(hdr[:], n)]
	if binary.BigEndian.Uint32(c[:]) != frameCRC(p.index, h, frame) {
		return errBadCRC
	}
	p.index++
	return nil
}
