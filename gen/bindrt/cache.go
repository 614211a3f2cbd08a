package bindrt

import (
	"hash/maphash"
	"maps"
	"math"

	"github.com/paularlott/scriptling/object"
)

// A record that callbacks receive comes back with the same values again
// and again (the sender of every message), so its converter keeps the
// dicts it built, in CacheSlots slots chosen by CacheSlot, and copies the
// kept dict of an equal value instead of building one. A copy shares the
// kept dict's str, int, float and bool objects, which nothing can change,
// and copies its dicts and lists (CopyDict, CopyList): no two dicts handed
// out share anything a script can change. The Same functions compare the
// fields a kept dict was built from.

// CacheSlots is the number of slots of a record converter's cache.
const CacheSlots = 64

var cacheSeed = maphash.MakeSeed()

// CacheSlot picks the slot of a value by one of its str fields.
func CacheSlot(key string) int {
	return int(maphash.String(cacheSeed, key) % CacheSlots)
}

// CopyDict makes dst a copy of src, sharing its keys and values, and
// returns it.
func CopyDict(dst, src *object.Dict) *object.Dict {
	dst.Pairs = maps.Clone(src.Pairs)
	if dst.Pairs == nil {
		dst.Pairs = map[string]object.DictPair{}
	}
	return dst
}

// CopyList makes dst a copy of src, sharing its items, and returns it.
func CopyList(dst, src *object.List) *object.List {
	dst.Elements = append(make([]object.Object, 0, len(src.Elements)), src.Elements...)
	return dst
}

// SameFloat reports whether a and b convert to the same float: equal bits,
// so that 0.0 and -0.0 differ and a NaN equals itself.
func SameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// SameAnyMap reports whether a and b hold the same entries, all of them
// None, bool, int, float or str: a value FromAny converts to a list or a
// dict, which a script could change, never counts as the same (so that a
// map holding one is never cached, since it is not the same as itself).
func SameAnyMap(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !sameScalar(v, w) {
			return false
		}
	}
	return true
}

// sameScalar reports whether a and b are the same immutable value.
func sameScalar(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case int:
		y, ok := b.(int)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && SameFloat(x, y)
	case string:
		y, ok := b.(string)
		return ok && x == y
	}
	return false
}
