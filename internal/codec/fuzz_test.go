package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/golang/snappy"
)

// fuzzSeeds are valid encodings the fuzzers start from, so mutation begins
// near the interesting structure instead of from random bytes.
func fuzzSeeds() []any {
	return []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		1.5, math.NaN(), math.Inf(-1), math.Copysign(0, -1), "", "héllo",
		[]any{}, map[string]any{},
		[]any{nil, true, int64(300), 2.5, "s", []any{int64(1)}, map[string]any{"k": "v"}},
		map[string]any{"a": []any{map[string]any{"b": nil}}, "c": 1e300},
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, v := range fuzzSeeds() {
		b, err := EncodeValue(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{tagList, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{tagDict, 2, 1, 'a', tagNil, 1, 'a', tagTrue})
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := DecodeValue(in)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		b, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if len(b) > len(in) {
			// The encoder writes minimal varints, so re-encoding never grows.
			t.Fatalf("re-encoding grew from %d to %d bytes", len(in), len(b))
		}
		v2, err := DecodeValue(b)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !equalValues(v, v2) {
			t.Fatalf("round trip changed the value: %#v vs %#v", v, v2)
		}
		b2, err := EncodeValue(v2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable: %x vs %x (%v)", b, b2, err)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	const maxSize = 1 << 20
	for _, v := range fuzzSeeds() {
		b, _ := EncodeValue(v)
		f.Add(snappy.Encode(nil, b))
	}
	f.Add(snappy.Encode(nil, bytes.Repeat([]byte("abc"), 1000)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Decompress(in, maxSize)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if len(out) > maxSize {
			t.Fatalf("output of %d bytes over the %d limit", len(out), maxSize)
		}
		c, ok := Compress(nil, out, 0)
		if !ok {
			c = snappy.Encode(nil, out)
		}
		back, err := Decompress(c, maxSize)
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`null`, `true`, `-0`, `9223372036854775808`, `1.0`, `1e400`,
		`{"a": [1, 2.5, "x", true, null]}`, `[[[]]]`, `{"k":1,"k":2}`, `"\ud83d\ude80"`, `1 2`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := DecodeJSON(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("error does not wrap ErrInvalidJSON: %v", err)
			}
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("accepted invalid JSON %q", s)
		}
		b, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("decoded JSON does not encode: %v", err)
		}
		back, err := DecodeValue(b)
		if err != nil || !equalValues(back, v) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
