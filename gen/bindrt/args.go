package bindrt

import (
	"sort"

	"github.com/paularlott/scriptling/object"
)

// CheckArgs validates the shape of a call before any argument is read: the
// positional count, unknown keywords, keywords repeating a positional
// argument and missing required arguments. The first required parameters
// are names[:required]; only names[:maxPositional] may be positional.
func CheckArgs(fn string, names []string, maxPositional, required int, args []object.Object, kwargs map[string]object.Object) *object.Exception {
	if len(args) > maxPositional {
		if maxPositional == 0 {
			return ArgTypeError("%s takes no positional arguments, got %d", fn, len(args))
		}
		return ArgTypeError("%s takes at most %d arguments, got %d", fn, maxPositional, len(args))
	}
	if len(kwargs) > 0 {
		var unknown []string
		for key := range kwargs {
			i := indexOf(names, key)
			if i < 0 {
				unknown = append(unknown, key)
				continue
			}
			if i < len(args) {
				return ArgTypeError("%s got multiple values for argument '%s'", fn, key)
			}
		}
		if len(unknown) > 0 {
			// Report the same keyword every time when several are wrong.
			sort.Strings(unknown)
			return ArgTypeError("%s got an unexpected keyword argument '%s'", fn, unknown[0])
		}
	}
	for i := len(args); i < required; i++ {
		if _, ok := kwargs[names[i]]; !ok {
			return ArgTypeError("%s missing required argument '%s'", fn, names[i])
		}
	}
	return nil
}

func indexOf(names []string, key string) int {
	for i, n := range names {
		if n == key {
			return i
		}
	}
	return -1
}

// Arg returns argument i, positional or keyword, or nil when it was not
// given. Call CheckArgs first.
func Arg(names []string, i int, args []object.Object, kwargs map[string]object.Object) object.Object {
	if i < len(args) {
		return args[i]
	}
	return kwargs[names[i]]
}

// IsNone reports whether v is None.
func IsNone(v object.Object) bool {
	_, ok := v.(*object.Null)
	return ok
}
