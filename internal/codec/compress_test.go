package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/golang/snappy"
)

func TestCompressBelowThreshold(t *testing.T) {
	src := []byte(strings.Repeat("a", 100))
	out, ok := Compress(nil, src, 256)
	if ok || !bytes.Equal(out, src) {
		t.Fatalf("compressed below threshold: %v, %d bytes", ok, len(out))
	}
	// At the threshold it is compressed (the data is very compressible).
	out, ok = Compress(nil, src, 100)
	if !ok || len(out) >= len(src) {
		t.Fatalf("not compressed at threshold: %v, %d bytes", ok, len(out))
	}
}

func TestCompressIncompressible(t *testing.T) {
	src := make([]byte, 4096)
	rand.Read(src)
	out, ok := Compress(nil, src, 0)
	if ok || !bytes.Equal(out, src) {
		t.Fatalf("random data reported compressed: %v, %d bytes", ok, len(out))
	}
	// Empty input never "compresses": the Snappy form is longer.
	if out, ok := Compress(nil, nil, 0); ok || len(out) != 0 {
		t.Fatalf("empty input: %v, %d bytes", ok, len(out))
	}
}

func TestCompressRoundTrip(t *testing.T) {
	payload, err := EncodeValue(map[string]any{
		"text":  strings.Repeat("the quick brown fox ", 200),
		"items": []any{int64(1), int64(2), int64(3), strings.Repeat("z", 1000)},
	})
	if err != nil {
		t.Fatal(err)
	}
	scratch := make([]byte, 0, snappy.MaxEncodedLen(len(payload)))
	out, ok := Compress(scratch, payload, 256)
	if !ok {
		t.Fatal("compressible payload not compressed")
	}
	if &out[0] != &scratch[:1][0] {
		t.Error("scratch buffer with enough capacity was not reused")
	}
	back, err := Decompress(out, len(payload))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, payload) {
		t.Fatal("round trip changed the payload")
	}
	// The limit is inclusive of the exact size, and one byte less refuses.
	if _, err := Decompress(out, len(payload)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestDecompressBombRefusedWithoutAllocating(t *testing.T) {
	// A Snappy header claiming 4 GiB - 1 with no data behind it.
	bomb := binary.AppendUvarint(nil, 1<<32-1)
	var err error
	allocs := testing.AllocsPerRun(100, func() { _, err = Decompress(bomb, 1<<20) })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// Averaged over many runs: the counters are process-wide, so a single
	// run would also count whatever another goroutine allocated meanwhile.
	if got := bytesPerRun(50, func() { _, _ = Decompress(bomb, 1<<20) }); got > 4096 {
		t.Fatalf("refusing a bomb allocated %d bytes a run (%v allocs)", got, allocs)
	}
	// A real bomb: 64 MiB of zeros compress to a few KiB.
	real := snappy.Encode(nil, make([]byte, 64<<20))
	if _, err := Decompress(real, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if got := bytesPerRun(50, func() { _, _ = Decompress(real, 1<<20) }); got > 4096 {
		t.Fatalf("refusing a %d byte bomb allocated %d bytes a run", len(real), got)
	}
	// Over what Snappy can describe at all.
	if _, err := Decompress(binary.AppendUvarint(nil, 1<<40), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestDecompressCorrupt(t *testing.T) {
	good := snappy.Encode(nil, []byte(strings.Repeat("abcdef", 50)))
	tests := map[string][]byte{
		"empty":           nil,
		"bad header":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"truncated":       good[:len(good)/2],
		"length mismatch": append(binary.AppendUvarint(nil, 10), 0x00, 'a'),
	}
	for name, in := range tests {
		if _, err := Decompress(in, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	for n := range len(good) {
		if _, err := Decompress(good[:n], 1<<20); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
	}
}
