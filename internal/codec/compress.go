package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/golang/snappy"
)

// Compress returns the Snappy block encoding of src when that is worth
// sending: only if len(src) >= minSize and the compressed form is strictly
// smaller than src. Otherwise it returns src itself and false, so the caller
// sends the bytes as they are and clears its "compressed" flag. Small
// payloads are skipped because compressing them saves little or nothing and
// costs CPU on both ends.
//
// dst is scratch space that is reused when it has enough capacity (as with
// snappy.Encode); its contents are overwritten, not appended to. The
// returned slice may alias dst or src.
func Compress(dst, src []byte, minSize int) (out []byte, compressed bool) {
	if len(src) < minSize {
		return src, false
	}
	enc := snappy.Encode(dst[:cap(dst)], src)
	if len(enc) >= len(src) {
		return src, false
	}
	return enc, true
}

// Decompress decodes Snappy block data produced by Compress. The size the
// data claims to expand to is read from its header and checked against
// maxSize before any output buffer is allocated, so a few bytes claiming
// gigabytes (a decompression bomb) are refused with ErrTooLarge without
// spending the memory. Malformed data is refused with ErrCorrupt.
func Decompress(src []byte, maxSize int) ([]byte, error) {
	// The header is a uvarint of the decoded length. Read it here as well as
	// through snappy.DecodedLen so that any claim over maxSize, even one too
	// big for the block format, is reported as ErrTooLarge.
	if claim, k := binary.Uvarint(src); k > 0 && (maxSize < 0 || claim > uint64(maxSize)) {
		return nil, fmt.Errorf("compressed payload claims %d bytes, over the %d byte limit: %w", claim, maxSize, ErrTooLarge)
	}
	n, err := snappy.DecodedLen(src)
	if err != nil {
		if err == snappy.ErrTooLarge {
			return nil, fmt.Errorf("compressed payload too large for this platform: %w", ErrTooLarge)
		}
		return nil, fmt.Errorf("%w: snappy header: %s", ErrCorrupt, err.Error())
	}
	if n > maxSize {
		return nil, fmt.Errorf("compressed payload expands to %d bytes, over the %d byte limit: %w", n, maxSize, ErrTooLarge)
	}
	out, err := snappy.Decode(nil, src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %s", ErrCorrupt, err.Error())
	}
	return out, nil
}
