package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DecodeJSON parses s, which must be exactly one JSON value (surrounding
// whitespace allowed), into the value model, so that scripts can build a
// payload from JSON text and send it like any other value.
//
// Numbers keep the distinction the model makes between int64 and float64:
// a number written without fraction or exponent that fits in int64 becomes
// int64; every other number (1.5, 1.0, 1e3, or an integer beyond int64)
// becomes float64. Going by how the number is written, not its value, means
// "1.0" stays a float, as its author wrote it. Objects become map[string]any
// (a repeated key keeps its last value, as in encoding/json), arrays []any,
// null nil.
//
// Errors wrap ErrInvalidJSON and give the byte offset where known: syntax
// errors, empty input, trailing data after the value, and numbers too large
// for float64. Nesting deeper than MaxDepth wraps both ErrInvalidJSON and
// ErrTooDeep, since such a value could not be encoded anyway.
func DecodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err, dec)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: unexpected data after the value ending at offset %d", ErrInvalidJSON, end)
	}
	return fromJSON(v, 0)
}

func jsonError(err error, dec *json.Decoder) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: empty input", ErrInvalidJSON)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of input at offset %d", ErrInvalidJSON, dec.InputOffset())
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %s at offset %d", ErrInvalidJSON, syn.Error(), syn.Offset)
	default:
		return fmt.Errorf("%w: %s", ErrInvalidJSON, err.Error())
	}
}

// fromJSON converts what encoding/json produced (with UseNumber) to the
// value model in place: only json.Number needs converting, and containers
// are reused rather than copied.
func fromJSON(v any, depth int) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return jsonNumber(string(x))
	case []any:
		if depth >= MaxDepth {
			return nil, jsonTooDeep()
		}
		for i, e := range x {
			c, err := fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case map[string]any:
		if depth >= MaxDepth {
			return nil, jsonTooDeep()
		}
		for k, e := range x {
			c, err := fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	default:
		// nil, bool and string are already model values.
		return v, nil
	}
}

func jsonTooDeep() error {
	return fmt.Errorf("%w: arrays and objects nested more than %d levels: %w", ErrInvalidJSON, MaxDepth, ErrTooDeep)
}

func jsonNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: number %s is out of range", ErrInvalidJSON, s)
	}
	return f, nil
}
