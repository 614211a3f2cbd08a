package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

func nestedDict(depth int) any {
	var v any = int64(1)
	for range depth {
		v = map[string]any{"k": v}
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any // nil means same as in
	}{
		{"nil", nil, nil},
		{"true", true, nil},
		{"false", false, nil},
		{"zero", int64(0), nil},
		{"one", int64(1), nil},
		{"minus one", int64(-1), nil},
		{"max int64", int64(math.MaxInt64), nil},
		{"min int64", int64(math.MinInt64), nil},
		{"int", 42, int64(42)},
		{"negative int", -7, int64(-7)},
		{"float", 1.5, nil},
		{"negative zero", math.Copysign(0, -1), nil},
		{"positive zero", 0.0, nil},
		{"NaN", math.NaN(), nil},
		{"+Inf", math.Inf(1), nil},
		{"-Inf", math.Inf(-1), nil},
		{"smallest float", math.SmallestNonzeroFloat64, nil},
		{"max float", math.MaxFloat64, nil},
		{"empty string", "", nil},
		{"string", "hello", nil},
		{"unicode", "héllo, 世界 🚀", nil},
		{"invalid utf8 kept", "\xff\xfe\x00a", nil},
		{"long string", strings.Repeat("x", 100000), nil},
		{"empty list", []any{}, nil},
		{"nil list", []any(nil), []any{}},
		{"empty dict", map[string]any{}, nil},
		{"nil dict", map[string]any(nil), map[string]any{}},
		{"list", []any{nil, true, int64(3), 2.5, "s", []any{}, map[string]any{}}, nil},
		{"dict", map[string]any{"a": int64(1), "": "empty key", "ü": []any{"x"}}, nil},
		{"nested", map[string]any{"a": []any{map[string]any{"b": []any{int64(1), 2.0, nil}}}}, nil},
		{"string slice", []string{"a", "b"}, []any{"a", "b"}},
		{"string map", map[string]string{"k": "v", "a": ""}, map[string]any{"k": "v", "a": ""}},
		{"mixed conveniences", map[string]any{"l": []string{"x"}, "m": map[string]string{"y": "z"}, "i": 5},
			map[string]any{"l": []any{"x"}, "m": map[string]any{"y": "z"}, "i": int64(5)}},
		{"max depth list", nested(MaxDepth), nil},
		{"max depth dict", nestedDict(MaxDepth), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.in
			}
			b, err := EncodeValue(tt.in)
			if err != nil {
				t.Fatalf("EncodeValue: %v", err)
			}
			got, err := DecodeValue(b)
			if err != nil {
				t.Fatalf("DecodeValue: %v", err)
			}
			if !equalValues(got, want) {
				t.Fatalf("round trip: got %#v, want %#v", got, want)
			}
			// Decoding yields only canonical model types, so encoding the
			// result again gives the same bytes.
			b2, err := EncodeValue(got)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("re-encode differs: %x vs %x (%v)", b, b2, err)
			}
		})
	}
}

func TestWireFormat(t *testing.T) {
	tests := []struct {
		in   any
		want []byte
	}{
		{nil, []byte{0x00}},
		{false, []byte{0x01}},
		{true, []byte{0x02}},
		{int64(-1), []byte{0x03, 0x01}},
		{int64(1), []byte{0x03, 0x02}},
		{1.0, []byte{0x04, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"hi", []byte{0x05, 0x02, 'h', 'i'}},
		{[]any{true}, []byte{0x06, 0x01, 0x02}},
		{map[string]any{"b": nil, "a": true}, []byte{0x07, 0x02, 0x01, 'a', 0x02, 0x01, 'b', 0x00}},
	}
	for _, tt := range tests {
		got, err := EncodeValue(tt.in)
		if err != nil {
			t.Fatalf("EncodeValue(%#v): %v", tt.in, err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("EncodeValue(%#v) = %x, want %x", tt.in, got, tt.want)
		}
	}
}

func TestAppendValueKeepsPrefix(t *testing.T) {
	dst := []byte("hdr")
	out, err := AppendValue(dst, "x")
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:3]) != "hdr" {
		t.Fatalf("prefix lost: %q", out)
	}
	v, err := DecodeValue(out[3:])
	if err != nil || v != "x" {
		t.Fatalf("got %#v, %v", v, err)
	}
	// On error the original slice comes back untouched in length.
	out, err = AppendValue(dst, []any{1, func() {}})
	if err == nil || len(out) != 3 {
		t.Fatalf("want error and dst back, got %q, %v", out, err)
	}
}

func TestDictEncodingDeterministic(t *testing.T) {
	m := map[string]any{}
	for i := range 200 {
		m[string(rune('a'+i%26))+strings.Repeat("k", i)] = int64(i)
	}
	first, err := EncodeValue(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		// Rebuild the map so iteration order (and internal layout) changes.
		c := make(map[string]any, len(m))
		for k, v := range m {
			c[k] = v
		}
		b, err := EncodeValue(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, b) {
			t.Fatal("dict encoding differs between runs")
		}
	}
	// The convenience map type encodes exactly like the model type.
	a, _ := EncodeValue(map[string]string{"z": "1", "a": "2", "m": "3"})
	b, _ := EncodeValue(map[string]any{"m": "3", "z": "1", "a": "2"})
	if !bytes.Equal(a, b) {
		t.Fatalf("map[string]string encoding %x differs from map[string]any %x", a, b)
	}
}

func TestEncodeUnsupportedType(t *testing.T) {
	type point struct{ X int }
	tests := []struct {
		in   any
		want string
	}{
		{func() {}, "payload: unsupported type func()"},
		{map[string]any{"a": []any{1, 2, func() {}}}, `payload["a"][2]: unsupported type func()`},
		{[]any{map[string]any{"we\"ird": point{}}}, `payload[0]["we\"ird"]: unsupported type codec.point`},
		{map[int]any{1: 2}, "payload: unsupported type map[int]interface {}"},
		{[]any{int32(1)}, "payload[0]: unsupported type int32"},
		{[]any{uint64(1)}, "payload[0]: unsupported type uint64"},
		{float32(1), "payload: unsupported type float32"},
		{[]byte("x"), "payload: unsupported type []uint8"},
		{(*int)(nil), "payload: unsupported type *int"},
	}
	for _, tt := range tests {
		_, err := EncodeValue(tt.in)
		if !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("EncodeValue(%T): err = %v, want ErrUnsupportedType", tt.in, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("message = %q, want %q", err.Error(), tt.want)
		}
	}
}

func TestEncodeTooDeep(t *testing.T) {
	for _, v := range []any{nested(MaxDepth + 1), nestedDict(MaxDepth + 1)} {
		_, err := EncodeValue(v)
		if !errors.Is(err, ErrTooDeep) {
			t.Fatalf("err = %v, want ErrTooDeep", err)
		}
	}
	// A list that contains itself is stopped by the depth limit instead of
	// recursing forever.
	self := []any{nil}
	self[0] = self
	if _, err := EncodeValue(self); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("self-referencing list: err = %v, want ErrTooDeep", err)
	}
	m := map[string]any{}
	m["m"] = m
	if _, err := EncodeValue(m); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("self-referencing map: err = %v, want ErrTooDeep", err)
	}
}

func TestDecodeTooDeep(t *testing.T) {
	// Hand-built, since the encoder refuses to produce it.
	var b []byte
	for range MaxDepth + 1 {
		b = append(b, tagList, 1)
	}
	b = append(b, tagNil)
	if _, err := DecodeValue(b); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err = %v, want ErrTooDeep", err)
	}
	// One level less is fine.
	if _, err := DecodeValue(b[2:]); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
}

func TestDecodeTruncatedAtEveryPrefix(t *testing.T) {
	v := map[string]any{
		"list":  []any{int64(1), int64(-300), 3.25, "str", nil, true, false},
		"dict":  map[string]any{"x": map[string]any{"y": []any{}}},
		"float": math.Inf(1),
		"big":   int64(math.MaxInt64),
		"uni":   "世界",
	}
	b, err := EncodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		_, err := DecodeValue(b[:n])
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d/%d bytes: err = %v, want ErrCorrupt", n, len(b), err)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<60)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown tag", []byte{0x08}},
		{"high tag", []byte{0xff}},
		{"trailing byte", []byte{tagNil, 0x00}},
		{"trailing after list", []byte{tagList, 0, 1}},
		{"int overflow", []byte{tagInt, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"length overflow", []byte{tagStr, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"short float", []byte{tagFloat, 1, 2, 3}},
		{"string too long", []byte{tagStr, 5, 'a', 'b'}},
		{"huge list", append([]byte{tagList}, huge...)},
		{"huge dict", append([]byte{tagDict}, huge...)},
		{"huge string", append([]byte{tagStr}, huge...)},
		{"huge key", append([]byte{tagDict, 1}, huge...)},
		{"max uvarint list", append([]byte{tagList}, binary.AppendUvarint(nil, math.MaxUint64)...)},
		{"dict count needs two bytes each", []byte{tagDict, 2, 0, tagNil}},
		{"duplicate key", []byte{tagDict, 2, 1, 'a', tagNil, 1, 'a', tagTrue}},
		{"list element missing", []byte{tagList, 2, tagNil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := DecodeValue(tt.in)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %#v, %v; want ErrCorrupt", v, err)
			}
		})
	}
}

func TestDecodeHugeClaimDoesNotAllocate(t *testing.T) {
	// 5 bytes claiming a 2^60-element list (and the same for dicts and
	// strings) must be refused before anything is reserved for them.
	for _, tag := range []byte{tagList, tagDict, tagStr} {
		in := append([]byte{tag}, binary.AppendUvarint(nil, 1<<60)...)
		var err error
		allocs := testing.AllocsPerRun(100, func() { _, err = DecodeValue(in) })
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("tag %#x: err = %v", tag, err)
		}
		// Only the error itself is allocated.
		if allocs > 10 {
			t.Fatalf("tag %#x: %v allocations for a refused input", tag, allocs)
		}
	}
	// Lists nested MaxDepth deep, each claiming all remaining bytes, then
	// garbage: every claim passes the length check, but the up-front
	// reservation per list is capped, so the overlapping claims cost little.
	var b []byte
	for range MaxDepth {
		b = append(b, tagList)
		b = binary.AppendUvarint(b, 1<<20)
	}
	b = append(b, bytes.Repeat([]byte{0xff}, 1<<20)...)
	_, err := DecodeValue(b)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if got := bytesPerRun(10, func() { _, _ = DecodeValue(b) }); got > 1<<20 {
		t.Fatalf("decoder allocated %d bytes for a refused %d byte input", got, len(b))
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	b, _ := EncodeValue(strings.Repeat("x", 100))
	if _, err := DecodeValueMax(b, 50); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, err := DecodeValueMax(b, len(b)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestDecodeDoesNotRetainInput(t *testing.T) {
	b, _ := EncodeValue(map[string]any{"key": "value"})
	v, err := DecodeValue(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if !equalValues(v, map[string]any{"key": "value"}) {
		t.Fatalf("decoded value changed with the input buffer: %#v", v)
	}
}

func TestAppendValueDoesNotRetainValue(t *testing.T) {
	// A caller building a payload for one send (a list literal with a
	// number and a string, as a message usually is) and encoding it into a
	// buffer it owns allocates nothing: AppendValue must not let the value
	// escape, so the literal and its boxed elements stay on the stack.
	buf := make([]byte, 0, 256)
	pad := strings.Repeat("x", 88)
	seq := int64(1000)
	allocs := testing.AllocsPerRun(100, func() {
		seq++
		out, err := AppendValue(buf[:0], []any{seq, pad})
		if err != nil || len(out) == 0 {
			t.Fatalf("AppendValue: %v", err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per encoding of a non-escaping payload, want 0", allocs)
	}
}

func TestDecodeValueSharedUsesTheBuffer(t *testing.T) {
	in := map[string]any{"name": "value", "list": []any{"a", int64(7), ""}}
	b, err := EncodeValue(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := DecodeValue(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeValueShared(b, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shared decoding = %#v, want %#v", got, want)
	}
	// Its strings (keys too) point into b: no copy was made of them.
	inside := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		start := uintptr(unsafe.Pointer(&b[0]))
		return p >= start && p+uintptr(len(s)) <= start+uintptr(len(b))
	}
	m := got.(map[string]any)
	for k := range m {
		if !inside(k) {
			t.Errorf("key %q was copied", k)
		}
	}
	if s := m["name"].(string); !inside(s) {
		t.Errorf("string %q was copied", s)
	}
	// The copying decoder's strings do not.
	for k := range want.(map[string]any) {
		if inside(k) {
			t.Errorf("DecodeValue's key %q shares the input", k)
		}
	}
	// Refusals are the same as DecodeValueMax's.
	if _, err := DecodeValueShared(b, len(b)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: err = %v, want ErrTooLarge", err)
	}
	if _, err := DecodeValueShared(append(b, 0), DefaultMaxSize); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: err = %v, want ErrCorrupt", err)
	}
}
