package codec

import (
	"fmt"
	"strings"
	"testing"
)

// benchPayloads: a small payload (a 100 byte string), a message of about
// 100 bytes as the throughput figures send, and a medium one (a nested
// dict of about 1 KiB), the sizes user messages usually have.
func benchPayloads(b *testing.B) []struct {
	name string
	v    any
} {
	items := make([]any, 0, 8)
	for i := range 8 {
		items = append(items, map[string]any{
			"id":    int64(i * 1000),
			"name":  fmt.Sprintf("item-%d", i),
			"score": float64(i) * 1.25,
			"ok":    i%2 == 0,
			"tags":  []any{"alpha", "beta"},
		})
	}
	medium := map[string]any{
		"type":  "update",
		"node":  "node-0123456789",
		"seq":   int64(123456789),
		"items": items,
		"meta":  map[string]any{"region": "eu-west", "zone": "b", "note": strings.Repeat("n", 450)},
	}
	enc, err := EncodeValue(medium)
	if err != nil {
		b.Fatal(err)
	}
	if len(enc) < 900 || len(enc) > 1300 {
		b.Fatalf("medium payload is %d bytes, want about 1 KiB", len(enc))
	}
	return []struct {
		name string
		v    any
	}{
		{"small", strings.Repeat("s", 100)},
		// What gossip-bench sends: a sequence number and padding.
		{"message", []any{int64(123456), strings.Repeat("x", 88)}},
		{"medium", medium},
	}
}

func BenchmarkEncodeValue(b *testing.B) {
	for _, p := range benchPayloads(b) {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 2048)
			for b.Loop() {
				var err error
				if buf, err = AppendValue(buf[:0], p.v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkDecodeValue(b *testing.B) {
	for _, p := range benchPayloads(b) {
		enc, err := EncodeValue(p.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := DecodeValue(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
