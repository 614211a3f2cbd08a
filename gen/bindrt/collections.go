package bindrt

import (
	"fmt"

	"github.com/paularlott/scriptling/object"
)

// elements returns the items of a list or tuple.
func elements(v object.Object) ([]object.Object, bool) {
	switch l := v.(type) {
	case *object.List:
		return l.Elements, true
	case *object.Tuple:
		return l.Elements, true
	}
	return nil, false
}

// ArgStrList converts a list or tuple of str; a wrong item is named by its index.
func ArgStrList(fn, name string, v object.Object) ([]string, *object.Exception) {
	items, ok := elements(v)
	if !ok {
		return nil, TypeError(fn, name, "a list of str", v)
	}
	out := make([]string, len(items))
	for i, item := range items {
		s, ok := item.(*object.String)
		if !ok {
			return nil, TypeError(fn, fmt.Sprintf("%s[%d]", name, i), "str", item)
		}
		out[i] = s.StringValue()
	}
	return out, nil
}

// ArgStrOrList accepts one string or a list of strings; one string becomes a one-element slice.
func ArgStrOrList(fn, name string, v object.Object) ([]string, *object.Exception) {
	if s, ok := v.(*object.String); ok {
		return []string{s.StringValue()}, nil
	}
	if _, ok := elements(v); !ok {
		return nil, TypeError(fn, name, "str or a list of str", v)
	}
	return ArgStrList(fn, name, v)
}

// ArgStrDict converts a dict of str to str; a wrong value is named by its key.
func ArgStrDict(fn, name string, v object.Object) (map[string]string, *object.Exception) {
	d, ok := v.(*object.Dict)
	if !ok {
		return nil, TypeError(fn, name, "a dict of str to str", v)
	}
	out := make(map[string]string, len(d.Pairs))
	for _, pair := range d.Pairs {
		k, ok := pair.Key.(*object.String)
		if !ok {
			return nil, TypeError(fn, name+" key", "str", pair.Key)
		}
		s, ok := pair.Value.(*object.String)
		if !ok {
			return nil, TypeError(fn, fmt.Sprintf("%s[%q]", name, k.StringValue()), "str", pair.Value)
		}
		out[k.StringValue()] = s.StringValue()
	}
	return out, nil
}

// MaxDepth bounds the nesting of payload values, so that a list holding
// itself fails cleanly instead of recursing forever.
const MaxDepth = 100

// payloadTypes names what a payload may hold, for error messages.
const payloadTypes = "str, int, float, bool, None, list or dict"

// ArgAny converts a payload to the Go value model: nil, bool, int64,
// float64, string, []any and map[string]any. Dict keys must be str; a
// wrong item is named by its path, such as payload["a"][2].
func ArgAny(fn, name string, v object.Object) (any, *object.Exception) {
	return toGo(fn, name, v, 0)
}

func toGo(fn, path string, v object.Object, depth int) (any, *object.Exception) {
	if depth > MaxDepth {
		return nil, ValueError("%s: %s is nested more than %d levels deep", fn, path, MaxDepth)
	}
	switch x := v.(type) {
	case nil, *object.Null:
		return nil, nil
	case *object.Boolean:
		return x.BoolValue(), nil
	case *object.Integer:
		return x.IntValue(), nil
	case *object.Float:
		return x.FloatValue(), nil
	case *object.String:
		return x.StringValue(), nil
	case *object.List, *object.Tuple:
		items, _ := elements(x)
		out := make([]any, len(items))
		for i, item := range items {
			g, exc := toGo(fn, fmt.Sprintf("%s[%d]", path, i), item, depth+1)
			if exc != nil {
				return nil, exc
			}
			out[i] = g
		}
		return out, nil
	case *object.Dict:
		out := make(map[string]any, len(x.Pairs))
		for _, pair := range x.Pairs {
			k, ok := pair.Key.(*object.String)
			if !ok {
				return nil, TypeError(fn, path+" keys", "str", pair.Key)
			}
			g, exc := toGo(fn, fmt.Sprintf("%s[%q]", path, k.StringValue()), pair.Value, depth+1)
			if exc != nil {
				return nil, exc
			}
			out[k.StringValue()] = g
		}
		return out, nil
	}
	return nil, TypeError(fn, path, payloadTypes, v)
}

// ArgAnyList converts a list or tuple of payloads.
func ArgAnyList(fn, name string, v object.Object) ([]any, *object.Exception) {
	if _, ok := elements(v); !ok {
		return nil, TypeError(fn, name, "a list", v)
	}
	g, exc := ArgAny(fn, name, v)
	if exc != nil {
		return nil, exc
	}
	return g.([]any), nil
}

// ArgAnyDict converts a dict of str to payloads.
func ArgAnyDict(fn, name string, v object.Object) (map[string]any, *object.Exception) {
	if _, ok := v.(*object.Dict); !ok {
		return nil, TypeError(fn, name, "a dict", v)
	}
	g, exc := ArgAny(fn, name, v)
	if exc != nil {
		return nil, exc
	}
	return g.(map[string]any), nil
}
