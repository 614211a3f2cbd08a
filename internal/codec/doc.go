// Package codec turns user payloads into bytes and back for the gossip
// engine.
//
// Payloads belong to a small value model: nil, bool, int64, float64, string,
// []any and map[string]any, nested. The model is what every scripting
// binding can represent, so a payload sent from one node decodes to the same
// value on every other node whatever language its handler is written in.
//
// The package has four parts, one per file:
//
//   - value.go: a compact, deterministic binary encoding of the value model
//     (EncodeValue, AppendValue, DecodeValue).
//   - json.go: DecodeJSON, which turns JSON text into the value model, so
//     scripts can build payloads from JSON.
//   - compress.go: Snappy compression of encoded payloads (Compress,
//     Decompress). The caller records in its own header whether a payload is
//     compressed.
//   - text.go: Text, the text of a scalar as Scriptling's str() writes it.
//
// Decoding reads bytes from other nodes, which may be buggy or hostile.
// Every decoder here therefore refuses bad input with an error instead of
// panicking, bounds nesting depth, and checks every claimed length against
// the bytes actually present (or a size limit) before allocating.
package codec
