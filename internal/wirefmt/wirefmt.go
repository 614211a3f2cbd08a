// Package wirefmt is the encoding of the module's small binary messages:
// uvarints and strings prefixed with their uvarint length. The engine's node
// header and control messages and the election's messages are built from it.
//
// Input comes from other nodes, so the Reader checks every length against
// the bytes actually present before slicing.
package wirefmt

import (
	"encoding/binary"
	"errors"
)

// ErrMalformed is what a Reader fails with when its Bad is nil.
var ErrMalformed = errors.New("malformed message")

// AppendString appends the uvarint length of s and then its bytes.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Reader decodes a message from the front of B. The first failure sticks in
// Err and later reads return zero values, so a decoder reads every field and
// checks Err once at the end.
type Reader struct {
	B   []byte // the bytes not read yet
	Err error  // the first failure, nil while every read succeeded
	// Bad is the error a failure sets, so that each caller reports its own
	// kind of message; nil means ErrMalformed.
	Bad error
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 { return Uvarint(&r.B, &r.Err, r.Bad) }

// Bytes reads the next n bytes; see the function Bytes.
func (r *Reader) Bytes(n int) []byte { return Bytes(&r.B, &r.Err, r.Bad, n) }

// Str reads a string written by AppendString. (It is not named String so
// that printing a Reader with %v does not consume it.)
func (r *Reader) Str() string { return Str(&r.B, &r.Err, r.Bad) }

// The functions below are the Reader's reads on a caller's own pair of
// unread bytes and first error, for a decoder type that keeps them under
// other names: it forwards to them without copying its state. Once *err is
// set they read nothing and return zero values; a malformed input sets *err
// to bad (ErrMalformed when bad is nil).

// Uvarint reads a uvarint from the front of *b.
func Uvarint(b *[]byte, err *error, bad error) uint64 {
	if *err != nil {
		return 0
	}
	v, n := binary.Uvarint(*b)
	if n <= 0 {
		*err = failure(bad)
		return 0
	}
	*b = (*b)[n:]
	return v
}

// Bytes reads the next n bytes from the front of *b. The result shares *b's
// memory and has no spare capacity, so appending to it cannot overwrite what
// follows.
func Bytes(b *[]byte, err *error, bad error, n int) []byte {
	if *err != nil {
		return nil
	}
	if n < 0 || n > len(*b) {
		*err = failure(bad)
		return nil
	}
	out := (*b)[:n:n]
	*b = (*b)[n:]
	return out
}

// Str reads a string written by AppendString from the front of *b.
func Str(b *[]byte, err *error, bad error) string {
	n := Uvarint(b, err, bad)
	if n > uint64(len(*b)) {
		*err = failure(bad)
		return ""
	}
	return string(Bytes(b, err, bad, int(n)))
}

func failure(bad error) error {
	if bad == nil {
		return ErrMalformed
	}
	return bad
}
