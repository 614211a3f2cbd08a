package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/scriptling-contrib/gossip/internal/wirefmt"
)

// Wire tags, one byte in front of every encoded value. The numbers are part
// of the wire format shared by every node of a cluster: never renumber them,
// only add new ones.
const (
	tagNil   byte = 0x00
	tagFalse byte = 0x01
	tagTrue  byte = 0x02
	tagInt   byte = 0x03 // zigzag varint
	tagFloat byte = 0x04 // 8 bytes, IEEE 754 bits, big-endian
	tagStr   byte = 0x05 // uvarint byte length, then the bytes
	tagList  byte = 0x06 // uvarint element count, then the elements
	tagDict  byte = 0x07 // uvarint entry count, then (uvarint key length, key bytes, value) per entry
)

// MaxDepth is the deepest nesting of lists and dicts the codec accepts, on
// both sides. It bounds the decoder's recursion (so hostile input cannot
// exhaust the stack) and stops the encoder on self-referencing maps and
// slices, which would otherwise recurse forever. A value that holds 100
// containers one inside another is accepted; 101 is ErrTooDeep.
const MaxDepth = 100

// DefaultMaxSize is the largest encoding EncodeValue produces and DecodeValue
// accepts. Decoding allocates memory proportional to the input (a few dozen
// bytes of Go values per input byte at worst), so capping the input caps the
// memory a peer can make this node spend on one payload. Callers with a
// tighter budget use DecodeValueMax.
const DefaultMaxSize = 16 << 20

// maxPrealloc caps how many slots a decoded list or dict reserves up front.
// A count is already checked against the bytes that remain, but nested
// containers can all claim the same remaining bytes; without this cap a small
// input nested MaxDepth deep could reserve MaxDepth times its size.
const maxPrealloc = 256

// EncodeValue returns the binary encoding of v; see AppendValue.
func EncodeValue(v any) ([]byte, error) {
	return AppendValue(nil, v)
}

// AppendValue appends the binary encoding of v to dst and returns the
// extended slice, so callers can put a header in front of a payload without
// copying it again.
//
// v must belong to the value model: nil, bool, int64, float64, string, []any
// and map[string]any, nested. For Go callers int, []string and
// map[string]string are accepted too; they encode as int64, list and dict,
// and so decode as int64, []any and map[string]any. A nil slice or map
// encodes as an empty list or dict.
//
// Dict entries are written in sorted key order, so equal values always
// encode to equal bytes (payloads can be compared or hashed in encoded form).
// Strings are written byte for byte: invalid UTF-8 is carried unchanged, not
// replaced, because Go strings may hold any bytes and the codec must not
// alter what the caller sends.
//
// Errors wrap ErrUnsupportedType (the message names the Go type and where it
// sits, e.g. `payload["a"][2]: unsupported type func()`), ErrTooDeep or
// ErrTooLarge. On error dst is returned unchanged (its spare capacity may
// have been written to).
func AppendValue(dst []byte, v any) ([]byte, error) {
	start := len(dst)
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst, err.toError()
	}
	if n := len(out) - start; n > DefaultMaxSize {
		return dst, fmt.Errorf("payload: encoding is %d bytes, over the %d byte limit: %w", n, DefaultMaxSize, ErrTooLarge)
	}
	return out, nil
}

// encodeError carries an encoding failure up the recursion, collecting the
// path to the offending value on the way (innermost segment first), so the
// path is only built when something actually fails.
type encodeError struct {
	segs []string
	msg  string
	err  error
}

func (e *encodeError) toError() error {
	var b strings.Builder
	b.WriteString("payload")
	for i := len(e.segs) - 1; i >= 0; i-- {
		b.WriteString(e.segs[i])
	}
	return fmt.Errorf("%s: %w%s", b.String(), e.err, e.msg)
}

func (e *encodeError) in(seg string) *encodeError {
	// The depth error would carry MaxDepth segments of little use; the
	// message already says what happened.
	if e.err != ErrTooDeep {
		e.segs = append(e.segs, seg)
	}
	return e
}

func listSeg(i int) string    { return "[" + strconv.Itoa(i) + "]" }
func dictSeg(k string) string { return "[" + strconv.Quote(k) + "]" }

func appendValue(dst []byte, v any, depth int) ([]byte, *encodeError) {
	switch x := v.(type) {
	case nil:
		return append(dst, tagNil), nil
	case bool:
		if x {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(dst, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(dst, tagInt), int64(x)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, tagFloat), math.Float64bits(x)), nil
	case string:
		return wirefmt.AppendString(append(dst, tagStr), x), nil
	case []any:
		if depth >= MaxDepth {
			return dst, tooDeep()
		}
		dst = binary.AppendUvarint(append(dst, tagList), uint64(len(x)))
		for i, e := range x {
			var err *encodeError
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err.in(listSeg(i))
			}
		}
		return dst, nil
	case []string:
		if depth >= MaxDepth {
			return dst, tooDeep()
		}
		dst = binary.AppendUvarint(append(dst, tagList), uint64(len(x)))
		for _, e := range x {
			dst = wirefmt.AppendString(append(dst, tagStr), e)
		}
		return dst, nil
	case map[string]any:
		if depth >= MaxDepth {
			return dst, tooDeep()
		}
		dst = binary.AppendUvarint(append(dst, tagDict), uint64(len(x)))
		var buf [16]string
		for _, k := range sortedKeys(x, buf[:]) {
			dst = wirefmt.AppendString(dst, k)
			var err *encodeError
			if dst, err = appendValue(dst, x[k], depth+1); err != nil {
				return dst, err.in(dictSeg(k))
			}
		}
		return dst, nil
	case map[string]string:
		if depth >= MaxDepth {
			return dst, tooDeep()
		}
		dst = binary.AppendUvarint(append(dst, tagDict), uint64(len(x)))
		var buf [16]string
		for _, k := range sortedKeys(x, buf[:]) {
			dst = wirefmt.AppendString(dst, k)
			dst = wirefmt.AppendString(append(dst, tagStr), x[k])
		}
		return dst, nil
	default:
		// The type's name as %T prints it, through reflect: handing v to fmt
		// would make every payload escape to the heap, costing callers an
		// allocation per value they send.
		return dst, &encodeError{err: ErrUnsupportedType, msg: " " + reflect.TypeOf(v).String()}
	}
}

func tooDeep() *encodeError {
	return &encodeError{err: ErrTooDeep, msg: fmt.Sprintf(": lists and dicts nested more than %d levels (or a value that contains itself)", MaxDepth)}
}

// sortedKeys returns the keys of m in order, in buf when they fit (callers
// pass a stack array so that small dicts cost no allocation).
func sortedKeys[V any](m map[string]V, buf []string) []string {
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DecodeValue decodes an encoding made by AppendValue. It reads untrusted
// bytes from the network, so it never panics and bounds what it allocates:
// the input may be at most DefaultMaxSize bytes, nesting at most MaxDepth,
// and every length or count is checked against the bytes that remain before
// anything is allocated for it. The whole of b must be one value; trailing
// bytes are an error.
//
// Results use the canonical model types only: nil, bool, int64, float64,
// string, []any and map[string]any. Empty lists and dicts decode as non-nil
// empty values. Strings are returned byte for byte and may hold invalid
// UTF-8 if the sender put it there.
//
// Errors wrap ErrCorrupt (malformed, truncated or trailing bytes, duplicate
// dict keys), ErrTooDeep or ErrTooLarge.
func DecodeValue(b []byte) (any, error) {
	return DecodeValueMax(b, DefaultMaxSize)
}

// DecodeValueMax is DecodeValue with a caller-chosen limit on len(b), for
// callers whose payloads have a smaller documented maximum.
func DecodeValueMax(b []byte, maxSize int) (any, error) {
	return decodeAll(decoder{b: b}, maxSize)
}

// DecodeValueShared is DecodeValueMax for a buffer the caller hands over:
// strings and dict keys in the result share b's memory instead of being
// copied out of it, which saves an allocation and a copy per string. b must
// never be modified afterwards, and stays in memory as long as any string
// of the result does.
func DecodeValueShared(b []byte, maxSize int) (any, error) {
	return decodeAll(decoder{b: b, shared: true}, maxSize)
}

// decodeAll decodes d.b, which must hold exactly one value.
func decodeAll(d decoder, maxSize int) (any, error) {
	b := d.b
	if len(b) > maxSize {
		return nil, fmt.Errorf("encoded value is %d bytes, over the %d byte limit: %w", len(b), maxSize, ErrTooLarge)
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes after the value at offset %d", ErrCorrupt, len(b)-d.off, d.off)
	}
	return v, nil
}

// decoder walks b from off; b is never modified. Unless shared is set,
// b is not retained either: strings are copied out, so the caller may reuse
// its buffer.
type decoder struct {
	b      []byte
	off    int
	shared bool // strings point into b (DecodeValueShared)
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func (d *decoder) uvarint(what string) (uint64, error) {
	n, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 {
		if k == 0 {
			return 0, d.corrupt("truncated %s at offset %d", what, d.off)
		}
		return 0, d.corrupt("%s overflows 64 bits at offset %d", what, d.off)
	}
	d.off += k
	return n, nil
}

// length reads a uvarint count and checks that at least count*minBytes bytes
// remain, which is what count items of at least minBytes each need. Checking
// before allocating is what keeps a tiny input claiming 2^60 elements from
// reserving memory for them.
func (d *decoder) length(what string, minBytes int) (int, error) {
	at := d.off
	n, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 {
		// Only now name the field: building the name on every call would
		// cost an allocation per string, list and map decoded.
		_, err := d.uvarint(what + " length")
		return 0, err
	}
	d.off += k
	if rem := uint64(d.remaining()); n > rem/uint64(minBytes) {
		return 0, d.corrupt("%s at offset %d claims %d items but only %d bytes remain", what, at, n, rem)
	}
	return int(n), nil
}

func (d *decoder) str(what string) (string, error) {
	n, err := d.length(what, 1)
	if err != nil {
		return "", err
	}
	var s string
	if d.shared && n > 0 {
		s = unsafe.String(&d.b[d.off], n)
	} else {
		s = string(d.b[d.off : d.off+n])
	}
	d.off += n
	return s, nil
}

func (d *decoder) value(depth int) (any, error) {
	if d.off >= len(d.b) {
		return nil, d.corrupt("truncated input: value expected at offset %d", d.off)
	}
	tag := d.b[d.off]
	d.off++
	switch tag {
	case tagNil:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagInt:
		n, k := binary.Varint(d.b[d.off:])
		if k <= 0 {
			if k == 0 {
				return nil, d.corrupt("truncated int at offset %d", d.off)
			}
			return nil, d.corrupt("int overflows 64 bits at offset %d", d.off)
		}
		d.off += k
		return n, nil
	case tagFloat:
		if d.remaining() < 8 {
			return nil, d.corrupt("truncated float at offset %d", d.off)
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
		d.off += 8
		return f, nil
	case tagStr:
		return d.str("string")
	case tagList:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("list at offset %d nested more than %d levels: %w", d.off-1, MaxDepth, ErrTooDeep)
		}
		// Every element takes at least its tag byte.
		n, err := d.length("list", 1)
		if err != nil {
			return nil, err
		}
		list := make([]any, 0, min(n, maxPrealloc))
		for range n {
			e, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
		return list, nil
	case tagDict:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("dict at offset %d nested more than %d levels: %w", d.off-1, MaxDepth, ErrTooDeep)
		}
		// Every entry takes at least a key length byte and a value tag byte.
		n, err := d.length("dict", 2)
		if err != nil {
			return nil, err
		}
		dict := make(map[string]any, min(n, maxPrealloc))
		for range n {
			at := d.off
			k, err := d.str("dict key")
			if err != nil {
				return nil, err
			}
			if _, dup := dict[k]; dup {
				// The encoder never writes a key twice; accepting it would
				// let two nodes disagree on which value wins.
				return nil, d.corrupt("duplicate dict key %q at offset %d", k, at)
			}
			e, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			dict[k] = e
		}
		return dict, nil
	default:
		return nil, d.corrupt("unknown tag 0x%02x at offset %d", tag, d.off-1)
	}
}
