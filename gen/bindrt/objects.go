package bindrt

import (
	"fmt"

	"github.com/paularlott/scriptling/object"
)

// None is the shared None result.
var None object.Object = &object.Null{}

// DictKey is a string dict key prepared once: the hash Scriptling files an
// entry under, and the key object. Strings are immutable, so every dict a
// converter builds can share them; this halves the cost of building a dict.
type DictKey struct {
	hash string
	key  object.Object
}

// NewDictKey prepares the key name.
func NewDictKey(name string) DictKey {
	k := object.NewString(name)
	return DictKey{hash: object.DictKey(k), key: k}
}

// Put files value under k in a dict's pairs.
func (k DictKey) Put(pairs map[string]object.DictPair, value object.Object) {
	pairs[k.hash] = object.DictPair{Key: k.key, Value: value}
}

// FillString makes dst the str object of s and returns it. The Fill
// functions convert into an object the caller allocated, so that a
// converter can allocate a dict and the objects of its fields in one piece
// (str objects are immutable, and dicts and lists are reached only through
// the pointers a converter hands out: sharing the piece is safe).
func FillString(dst *object.String, s string) *object.String {
	*dst = *object.NewString(s)
	return dst
}

// putString files value under the string key k.
func putString(pairs map[string]object.DictPair, k string, value object.Object) {
	key := object.NewString(k)
	pairs[object.DictKey(key)] = object.DictPair{Key: key, Value: value}
}

// FromAny converts a Go value-model value (see ArgAny) to a Scriptling
// object; []string and map[string]string are accepted too.
func FromAny(v any) object.Object {
	switch x := v.(type) {
	case nil:
		return None
	case bool:
		return object.NewBoolean(x)
	case int64:
		return object.NewInteger(x)
	case int:
		return object.NewInteger(int64(x))
	case float64:
		return object.NewFloat(x)
	case string:
		return object.NewString(x)
	case []any:
		out := make([]object.Object, len(x))
		for i, item := range x {
			out[i] = FromAny(item)
		}
		return &object.List{Elements: out}
	case []string:
		return FromStrList(x)
	case map[string]any:
		return FromAnyMap(x)
	case map[string]string:
		return FromStrMap(x)
	}
	// Go code should only produce the value model; anything else is shown, not lost.
	return object.NewString(fmt.Sprint(v))
}

// FromAnyMap converts a map of value-model values to a dict.
func FromAnyMap(m map[string]any) object.Object { return FillAnyMap(new(object.Dict), m) }

// FillAnyMap converts m into dst (see FillString) and returns it.
func FillAnyMap(dst *object.Dict, m map[string]any) *object.Dict {
	dst.Pairs = make(map[string]object.DictPair, len(m))
	for k, v := range m {
		putString(dst.Pairs, k, FromAny(v))
	}
	return dst
}

// FromStrList converts a list of strings.
func FromStrList(l []string) object.Object { return FillStrList(new(object.List), l) }

// FillStrList converts l into dst (see FillString) and returns it.
func FillStrList(dst *object.List, l []string) *object.List {
	dst.Elements = make([]object.Object, len(l))
	for i, s := range l {
		dst.Elements[i] = object.NewString(s)
	}
	return dst
}

// FromStrMap converts a map of strings to a dict.
func FromStrMap(m map[string]string) object.Object { return FillStrMap(new(object.Dict), m) }

// FillStrMap converts m into dst (see FillString) and returns it.
func FillStrMap(dst *object.Dict, m map[string]string) *object.Dict {
	dst.Pairs = make(map[string]object.DictPair, len(m))
	for k, v := range m {
		putString(dst.Pairs, k, object.NewString(v))
	}
	return dst
}
