package codec

import "errors"

// Sentinel errors. Every error the package returns wraps one of these (an
// error about too-deep JSON wraps both ErrInvalidJSON and ErrTooDeep), so
// callers classify failures with errors.Is instead of parsing messages.
// The messages carry no package prefix: the caller adds its own context.
var (
	// ErrUnsupportedType: a value outside the value model was given to the
	// encoder (a func, a struct, a map with non-string keys, ...).
	ErrUnsupportedType = errors.New("unsupported type")
	// ErrTooDeep: lists and dicts nested more than MaxDepth levels.
	ErrTooDeep = errors.New("nested too deeply")
	// ErrCorrupt: bytes that are not a valid encoding (bad tag, truncated
	// input, impossible length, trailing bytes, bad Snappy data).
	ErrCorrupt = errors.New("corrupt input")
	// ErrTooLarge: an input or output over the size limit in force.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidJSON: text that is not exactly one JSON value, or a JSON
	// value the value model cannot hold.
	ErrInvalidJSON = errors.New("invalid JSON")
)
