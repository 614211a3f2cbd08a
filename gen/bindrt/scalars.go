package bindrt

import (
	"math"
	"time"

	"github.com/paularlott/scriptling/object"
)

// The scalar converters take the function and parameter names only to name
// them in the error; they allocate nothing when the argument fits, and are
// small enough to be inlined into the generated builtins.

// ArgStr converts a str argument.
func ArgStr(fn, name string, v object.Object) (string, *object.Exception) {
	if s, ok := v.(*object.String); ok {
		return s.StringValue(), nil
	}
	return "", TypeError(fn, name, "str", v)
}

// ArgInt converts an int argument; bool is a separate type here, unlike in Python.
func ArgInt(fn, name string, v object.Object) (int64, *object.Exception) {
	if i, ok := v.(*object.Integer); ok {
		return i.IntValue(), nil
	}
	return 0, TypeError(fn, name, "int", v)
}

// ArgFloat converts a float argument; an int is accepted too.
func ArgFloat(fn, name string, v object.Object) (float64, *object.Exception) {
	switch n := v.(type) {
	case *object.Float:
		return n.FloatValue(), nil
	case *object.Integer:
		return float64(n.IntValue()), nil
	}
	return 0, TypeError(fn, name, "float", v)
}

// ArgBool converts a bool argument.
func ArgBool(fn, name string, v object.Object) (bool, *object.Exception) {
	if b, ok := v.(*object.Boolean); ok {
		return b.BoolValue(), nil
	}
	return false, TypeError(fn, name, "bool", v)
}

// ArgDuration accepts seconds as an int or float, or a Go duration string such as "500ms".
func ArgDuration(fn, name string, v object.Object) (time.Duration, *object.Exception) {
	switch n := v.(type) {
	case *object.Integer:
		return time.Duration(n.IntValue()) * time.Second, nil
	case *object.Float:
		f := n.FloatValue()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/float64(time.Second) {
			return 0, ValueError("%s: %s must be a finite number of seconds, got %v", fn, name, f)
		}
		return time.Duration(f * float64(time.Second)), nil
	case *object.String:
		d, err := time.ParseDuration(n.StringValue())
		if err != nil {
			return 0, ValueError("%s: %s must be a duration such as \"500ms\" or \"2s\", got %q", fn, name, n.StringValue())
		}
		return d, nil
	}
	return 0, TypeError(fn, name, "int, float or a duration string", v)
}

// Accept is a set of scalar kinds ArgScalar accepts.
type Accept int

// Scalar kinds accepted by ArgScalar.
const (
	AcceptStr Accept = 1 << iota
	AcceptInt
	AcceptFloat
	AcceptBool
)

// ArgScalar converts a scalar union argument to string, int64, float64 or
// bool; an int becomes a float64 when float is accepted and int is not.
// expected describes the union in the error.
func ArgScalar(fn, name string, v object.Object, accept Accept, expected string) (any, *object.Exception) {
	switch x := v.(type) {
	case *object.String:
		if accept&AcceptStr != 0 {
			return x.StringValue(), nil
		}
	case *object.Integer:
		if accept&AcceptInt != 0 {
			return x.IntValue(), nil
		}
		if accept&AcceptFloat != 0 {
			return float64(x.IntValue()), nil
		}
	case *object.Float:
		if accept&AcceptFloat != 0 {
			return x.FloatValue(), nil
		}
	case *object.Boolean:
		if accept&AcceptBool != 0 {
			return x.BoolValue(), nil
		}
	}
	return nil, TypeError(fn, name, expected, v)
}
