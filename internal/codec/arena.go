package codec

import (
	"encoding/binary"
	"unsafe"
)

// Decoding allocates in bulk.
//
// A decoded value is made of Go values held in interfaces, and putting a
// string, an int64, a float64 or a []any into an interface allocates a
// copy of it on the heap, one allocation per value besides the string's
// bytes and the list's elements. Receivers decode every message they get,
// so that was most of the garbage a small message left behind. Instead, a
// first pass over the encoding counts what the value holds (measure), and
// the decoder then takes every string header, number, list header, list
// element and string byte from a few blocks allocated at once (arena): a
// small value costs one or two allocations, a large one at most six,
// whatever the number of values in it.
//
// The interfaces are made to point into those blocks (boxAt), which Go
// itself does not offer: an interface holding a value that is not a
// pointer is a type word and a pointer to the value. The blocks are never
// written again once a value is boxed, so the values stay as immutable as
// the copies Go would have made. A value kept by the application keeps its
// whole block alive (at most the size of one decoded message).

// eface is the layout of an interface value without methods.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	stringType = typeWord("")
	intType    = typeWord(int64(0))
	floatType  = typeWord(float64(0))
	listType   = typeWord([]any(nil))
)

// boxAt returns an interface of type typ (one of the words above) holding
// the value at p, without copying it.
func boxAt(typ, p unsafe.Pointer) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, p
	return v
}

// shape counts what decoding a value needs: boxed strings (dict keys are
// not boxed, but their bytes count), string bytes, numbers, lists and list
// elements.
type shape struct {
	strs, strBytes, ints, floats, lists, elems int
}

// kinds is how many different blocks a value of shape s needs.
func (s shape) kinds() int {
	k := 0
	for _, n := range [...]int{s.strs, s.strBytes, s.ints, s.floats, s.lists, s.elems} {
		if n > 0 {
			k++
		}
	}
	return k
}

// small is the block a small value of several kinds of parts takes them
// all from (its string bytes apart, when there are more than fit): one
// allocation instead of one per kind.
type small struct {
	elems  [4]any
	strs   [2]string
	lists  [1][]any
	ints   [2]int64
	floats [1]float64
}

// arena hands out the parts of one decoded value. A part it has no room
// for (which a correct shape never leaves it short of) is allocated the
// usual way.
type arena struct {
	elems  []any
	strs   []string
	lists  [][]any
	ints   []int64
	floats []float64
	bytes  []byte
	spills int // parts allocated on their own for want of room
}

// newArena allocates the blocks for a value of shape s: one per kind of
// part it has, or one small block when that fits and saves allocations.
func newArena(s shape) arena {
	var a arena
	if s.kinds() > 3 && s.elems <= len(small{}.elems) && s.strs <= len(small{}.strs) && s.lists <= len(small{}.lists) &&
		s.ints <= len(small{}.ints) && s.floats <= len(small{}.floats) {
		b := new(small)
		a.elems, a.strs, a.lists = b.elems[:0:s.elems], b.strs[:0:s.strs], b.lists[:0:s.lists]
		a.ints, a.floats = b.ints[:0:s.ints], b.floats[:0:s.floats]
		if s.strBytes > 0 {
			a.bytes = make([]byte, 0, s.strBytes) // no pointers: not worth a place in the block
		}
		return a
	}
	if s.elems > 0 {
		a.elems = make([]any, 0, s.elems)
	}
	if s.strs > 0 {
		a.strs = make([]string, 0, s.strs)
	}
	if s.lists > 0 {
		a.lists = make([][]any, 0, s.lists)
	}
	if s.ints > 0 {
		a.ints = make([]int64, 0, s.ints)
	}
	if s.floats > 0 {
		a.floats = make([]float64, 0, s.floats)
	}
	if s.strBytes > 0 {
		a.bytes = make([]byte, 0, s.strBytes)
	}
	return a
}

// string returns a string with the bytes of b, copied into the arena.
func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(a.bytes)+len(b) > cap(a.bytes) {
		a.spills++
		return string(b)
	}
	at := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return unsafe.String(&a.bytes[at], len(b))
}

func (a *arena) boxString(s string) any {
	if len(a.strs) == cap(a.strs) {
		a.spills++
		return s
	}
	a.strs = append(a.strs, s)
	return boxAt(stringType, unsafe.Pointer(&a.strs[len(a.strs)-1]))
}

func (a *arena) boxInt(n int64) any {
	if len(a.ints) == cap(a.ints) {
		a.spills++
		return n
	}
	a.ints = append(a.ints, n)
	return boxAt(intType, unsafe.Pointer(&a.ints[len(a.ints)-1]))
}

func (a *arena) boxFloat(f float64) any {
	if len(a.floats) == cap(a.floats) {
		a.spills++
		return f
	}
	a.floats = append(a.floats, f)
	return boxAt(floatType, unsafe.Pointer(&a.floats[len(a.floats)-1]))
}

// list returns an empty list with room for n elements. Its capacity is
// exactly n, so appending to it later never writes over a neighbour's.
func (a *arena) list(n int) []any {
	if n == 0 {
		return []any{} // empty but not nil, as DecodeValue promises; allocates nothing
	}
	if len(a.elems)+n > cap(a.elems) {
		a.spills++
		return make([]any, 0, min(n, maxPrealloc))
	}
	at := len(a.elems)
	a.elems = a.elems[:at+n]
	return a.elems[at : at : at+n]
}

func (a *arena) boxList(l []any) any {
	if len(a.lists) == cap(a.lists) {
		a.spills++
		return l
	}
	a.lists = append(a.lists, l)
	return boxAt(listType, unsafe.Pointer(&a.lists[len(a.lists)-1]))
}

// measure counts the parts of the value encoded in b. ok is false when b
// is not a well-formed encoding within the limits; the decoder then
// allocates value by value and reports the problem.
func measure(b []byte) (s shape, ok bool) {
	m := measurer{b: b}
	if !m.value(0) || m.off != len(b) {
		return shape{}, false
	}
	return m.s, true
}

type measurer struct {
	b   []byte
	off int
	s   shape
}

// count reads a uvarint count of items taking at least minBytes each.
func (m *measurer) count(minBytes int) (int, bool) {
	n, k := binary.Uvarint(m.b[m.off:])
	if k <= 0 {
		return 0, false
	}
	m.off += k
	if n > uint64(len(m.b)-m.off)/uint64(minBytes) {
		return 0, false
	}
	return int(n), true
}

// str skips a length-prefixed string, counting its bytes.
func (m *measurer) str() bool {
	n, ok := m.count(1)
	if !ok {
		return false
	}
	m.off += n
	m.s.strBytes += n
	return true
}

func (m *measurer) value(depth int) bool {
	if m.off >= len(m.b) {
		return false
	}
	tag := m.b[m.off]
	m.off++
	switch tag {
	case tagNil, tagFalse, tagTrue:
		return true
	case tagInt:
		_, k := binary.Varint(m.b[m.off:])
		if k <= 0 {
			return false
		}
		m.off += k
		m.s.ints++
		return true
	case tagFloat:
		if len(m.b)-m.off < 8 {
			return false
		}
		m.off += 8
		m.s.floats++
		return true
	case tagStr:
		m.s.strs++
		return m.str()
	case tagList:
		n, ok := m.count(1)
		if !ok || depth >= MaxDepth {
			return false
		}
		m.s.lists++
		m.s.elems += n
		for range n {
			if !m.value(depth + 1) {
				return false
			}
		}
		return true
	case tagDict:
		n, ok := m.count(2)
		if !ok || depth >= MaxDepth {
			return false
		}
		for range n {
			if !m.str() || !m.value(depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
