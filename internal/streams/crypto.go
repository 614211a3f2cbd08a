package streams

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/flynn/noise"
)

// Record limits.
//
// A record's ciphertext is at most noise.MaxMsgLen (65535) bytes, so it
// carries at most maxRecordPlain bytes of the frame stream.
//
// Rekeying: AES-GCM with counter nonces never repeats a nonce, but the
// amount of data sealed under one key should stay far below the
// confidentiality bound (about 2^34 AES blocks for a 2^-60 advantage, or
// 256 GiB). Both ends rekey after rekeyRecords records or rekeyBytes bytes
// of plaintext, whichever comes first; they count the same records so no
// signalling is needed. maxSessionRecords ends a session long before the
// nonce space (2^64) runs out: the dialer then opens a new session with a
// new handshake.
const (
	maxRecordPlain = noise.MaxMsgLen - tagLen

	defaultRekeyRecords      = 1 << 20
	defaultRekeyBytes        = 1 << 30
	defaultMaxSessionRecords = 1 << 32
)

// sessionLimits are the rekey and session caps; tests shrink them.
type sessionLimits struct {
	rekeyRecords, rekeyBytes, maxRecords uint64
}

var defaultLimits = sessionLimits{
	rekeyRecords: defaultRekeyRecords,
	rekeyBytes:   defaultRekeyBytes,
	maxRecords:   defaultMaxSessionRecords,
}

// errSessionExhausted ends a session that reached maxRecords.
var errSessionExhausted = errors.New("streams: session reached its record limit")

// keySchedule counts records under the current key and rekeys the cipher
// state at the limits. Sealer and opener run the same schedule.
type keySchedule struct {
	cs                     *noise.CipherState
	lim                    *sessionLimits
	records                uint64         // in the session
	sinceRecords, sinceLen uint64         // since the last rekey
	rekeys                 *atomic.Uint64 // the transport's counter; may be nil
}

// check fails once the session may carry no more records.
func (k *keySchedule) check() error {
	if k.records >= k.lim.maxRecords {
		return errSessionExhausted
	}
	return nil
}

// done accounts for one record of plainLen bytes and rekeys when due.
func (k *keySchedule) done(plainLen int) {
	k.records++
	k.sinceRecords++
	k.sinceLen += uint64(plainLen)
	if k.sinceRecords >= k.lim.rekeyRecords || k.sinceLen >= k.lim.rekeyBytes {
		k.cs.Rekey()
		if k.rekeys != nil {
			k.rekeys.Add(1)
		}
		k.sinceRecords, k.sinceLen = 0, 0
	}
}

// sealer packs frames into records and writes them to w. Not safe for
// concurrent use.
type sealer struct {
	keySchedule
	w   io.Writer
	buf []byte // uint16 length slot, then the pending plaintext
	hdr [binary.MaxVarintLen64]byte
}

func newSealer(w io.Writer, cs *noise.CipherState, lim *sessionLimits, initial int) *sealer {
	return &sealer{
		keySchedule: keySchedule{cs: cs, lim: lim},
		w:           w,
		buf:         make([]byte, 2, 2+min(initial, maxRecordPlain)+tagLen),
	}
}

// recordsFor is how many records n more bytes of frame stream need at most.
func (s *sealer) recordsFor(n int) uint64 {
	return uint64(n/maxRecordPlain) + 2
}

// writeFrame appends one frame (length prefix and payload) to the stream.
func (s *sealer) writeFrame(frame []byte) error {
	if err := s.write(s.hdr[:binary.PutUvarint(s.hdr[:], uint64(len(frame)))]); err != nil {
		return err
	}
	return s.write(frame)
}

func (s *sealer) write(p []byte) error {
	for len(p) > 0 {
		take := min(len(p), maxRecordPlain-(len(s.buf)-2))
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		if len(s.buf)-2 == maxRecordPlain {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush seals the pending plaintext, if any, as one record and writes it.
func (s *sealer) flush() error {
	n := len(s.buf) - 2
	if n == 0 {
		return nil
	}
	if err := s.check(); err != nil {
		return err
	}
	// Sealing in place: the ciphertext overwrites the plaintext exactly,
	// which AES-GCM allows.
	out, err := s.cs.Encrypt(s.buf[:2], nil, s.buf[2:])
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(out, uint16(len(out)-2))
	s.done(n)
	s.buf = out[:2]
	_, err = s.w.Write(out)
	return err
}

// opener reads records from r and serves their plaintext as a byte stream.
// Not safe for concurrent use.
type opener struct {
	keySchedule
	r     *bufio.Reader
	rec   []byte // the current record, decrypted in place
	plain []byte // unread part of rec's plaintext
}

// errRecordAuth reports a record that failed to authenticate.
var errRecordAuth = errors.New("streams: record failed to authenticate")

func newOpener(r *bufio.Reader, cs *noise.CipherState, lim *sessionLimits) *opener {
	return &opener{keySchedule: keySchedule{cs: cs, lim: lim}, r: r}
}

// next reads and opens the next record.
func (o *opener) next() error {
	if err := o.check(); err != nil {
		return err
	}
	var l [2]byte
	if _, err := io.ReadFull(o.r, l[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n <= tagLen {
		return fmt.Errorf("%w: %d-byte record", errRecordAuth, n)
	}
	if cap(o.rec) < n {
		o.rec = make([]byte, n, max(n, min(2*cap(o.rec), noise.MaxMsgLen)))
	}
	o.rec = o.rec[:n]
	if _, err := io.ReadFull(o.r, o.rec); err != nil {
		return unexpectedEOF(err)
	}
	plain, err := o.cs.Decrypt(o.rec[:0], nil, o.rec)
	if err != nil {
		return errRecordAuth
	}
	o.done(len(plain))
	o.plain = plain
	return nil
}

// Read implements io.Reader over the records' plaintext.
func (o *opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if err := o.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// ReadByte implements io.ByteReader for the frames' length prefixes.
func (o *opener) ReadByte() (byte, error) {
	for len(o.plain) == 0 {
		if err := o.next(); err != nil {
			return 0, err
		}
	}
	b := o.plain[0]
	o.plain = o.plain[1:]
	return b, nil
}
