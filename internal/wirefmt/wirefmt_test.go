package wirefmt

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

var errTest = errors.New("malformed test message")

// message is the shape the tests and the fuzz target encode: a uvarint, a
// string, two raw bytes and a second string.
type message struct {
	n    uint64
	s    string
	raw  [2]byte
	tail string
}

func (m message) encode() []byte {
	b := binary.AppendUvarint(nil, m.n)
	b = AppendString(b, m.s)
	b = append(b, m.raw[:]...)
	return AppendString(b, m.tail)
}

func decode(b []byte, bad error) (message, []byte, error) {
	r := Reader{B: b, Bad: bad}
	var m message
	m.n = r.Uvarint()
	m.s = r.Str()
	copy(m.raw[:], r.Bytes(2))
	m.tail = r.Str()
	return m, r.B, r.Err
}

func TestRoundTrip(t *testing.T) {
	for _, m := range []message{
		{},
		{n: 1, s: "a", raw: [2]byte{0, 0xff}, tail: "b"},
		{n: math.MaxUint64, s: strings.Repeat("x", 300), raw: [2]byte{7, 8}, tail: "héllo"},
	} {
		b := append(m.encode(), 0xAA) // a trailing byte stays unread
		got, rest, err := decode(b, errTest)
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if got != m {
			t.Fatalf("round trip: got %+v, want %+v", got, m)
		}
		if len(rest) != 1 || rest[0] != 0xAA {
			t.Fatalf("%+v: left %x unread, want aa", m, rest)
		}
	}
}

// Every proper prefix of a valid message fails with the caller's error and
// yields zero values from the failed read on.
func TestTruncated(t *testing.T) {
	full := message{n: 300, s: "name", raw: [2]byte{1, 2}, tail: "end"}.encode()
	for i := range len(full) {
		_, _, err := decode(full[:i], errTest)
		if err != errTest {
			t.Fatalf("prefix of %d bytes: err %v, want errTest", i, err)
		}
	}
}

func TestOverlongLength(t *testing.T) {
	// A string that claims more bytes than follow.
	b := binary.AppendUvarint(nil, 10)
	b = append(b, "short"...)
	r := Reader{B: b, Bad: errTest}
	if s := r.Str(); s != "" || r.Err != errTest {
		t.Fatalf("Str = %q, err %v; want empty and errTest", s, r.Err)
	}
	// A length beyond what an int holds must not wrap to a small or
	// negative slice bound.
	r = Reader{B: binary.AppendUvarint(nil, math.MaxUint64), Bad: errTest}
	if s := r.Str(); s != "" || r.Err != errTest {
		t.Fatalf("huge length: Str = %q, err %v", s, r.Err)
	}
	// A uvarint longer than 64 bits.
	r = Reader{B: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, Bad: errTest}
	if v := r.Uvarint(); v != 0 || r.Err != errTest {
		t.Fatalf("overflowing uvarint = %d, err %v", v, r.Err)
	}
	r = Reader{B: []byte{1, 2}}
	if got := r.Bytes(-1); got != nil || r.Err != ErrMalformed {
		t.Fatalf("Bytes(-1) = %v, err %v", got, r.Err)
	}
}

// After a failure every read returns a zero value and the input is left
// alone, so the first error is the one reported.
func TestErrorSticks(t *testing.T) {
	r := Reader{B: []byte{0x80}} // an unfinished uvarint
	r.Uvarint()
	if r.Err != ErrMalformed {
		t.Fatalf("err %v, want ErrMalformed when Bad is nil", r.Err)
	}
	r.B = AppendString(binary.AppendUvarint(nil, 5), "ok")
	if v, s, by := r.Uvarint(), r.Str(), r.Bytes(1); v != 0 || s != "" || by != nil {
		t.Fatalf("reads after a failure: %d %q %v", v, s, by)
	}
	if len(r.B) != 4 {
		t.Fatalf("reads after a failure consumed input: %d bytes left", len(r.B))
	}
}

// Bytes returns no spare capacity, so a caller appending to the result
// cannot write over the next field.
func TestBytesCapacity(t *testing.T) {
	r := Reader{B: []byte{1, 2, 3}}
	got := r.Bytes(1)
	_ = append(got, 9)
	if r.B[0] != 2 {
		t.Fatalf("append to a read slice overwrote the input: %v", r.B)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(message{n: 1, s: "a", raw: [2]byte{1, 2}, tail: "b"}.encode())
	f.Add(message{n: math.MaxUint64, s: "héllo"}.encode())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(binary.AppendUvarint([]byte{0}, math.MaxUint64))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, rest, err := decode(in, errTest)
		if err != nil {
			if err != errTest {
				t.Fatalf("error %v is not the caller's", err)
			}
			return
		}
		// The encoder writes minimal uvarints, so re-encoding never grows
		// past the bytes the message was read from.
		enc := m.encode()
		used := len(in) - len(rest)
		if len(enc) > used {
			t.Fatalf("re-encoding grew from %d to %d bytes", used, len(enc))
		}
		again, left, err := decode(enc, errTest)
		if err != nil || again != m || len(left) != 0 {
			t.Fatalf("re-encoded message does not round trip: %+v vs %+v, %d left, %v", again, m, len(left), err)
		}
	})
}
