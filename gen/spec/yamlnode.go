package spec

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// reader walks yaml.Node trees, collecting problems instead of stopping.
type reader struct {
	file string
	errs Errors
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func (r *reader) errf(at Pos, format string, args ...any) {
	r.errs = append(r.errs, Problem{File: r.file, Pos: at, Msg: fmt.Sprintf(format, args...)})
}

// deref follows aliases to the anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a bool"
		case "!!int":
			return "an int"
		case "!!float":
			return "a float"
		}
		return "a string"
	}
	return "an unsupported node"
}

// entry is one key of a mapping, in file order.
type entry struct {
	key *yaml.Node
	val *yaml.Node
}

// fields checks that n is a mapping whose keys are all known, and returns the
// values by key. pos is where the mapping's key began (used when n is the value).
func (r *reader) fields(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, []entry, bool) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		r.errf(posOf(n), "%s must be a mapping, got %s", what, kindName(n))
		return nil, nil, false
	}
	allowed := make(map[string]bool, len(known))
	for _, k := range known {
		allowed[k] = true
	}
	out := map[string]*yaml.Node{}
	var order []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			r.errf(posOf(k), "%s: keys must be strings", what)
			continue
		}
		if !allowed[k.Value] {
			r.errf(posOf(k), "%s: unknown key %q", what, k.Value)
			continue
		}
		if _, dup := out[k.Value]; dup {
			r.errf(posOf(k), "%s: duplicate key %q", what, k.Value)
			continue
		}
		out[k.Value] = v
		order = append(order, entry{k, deref(v)})
	}
	return out, order, true
}

func (r *reader) str(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		r.errf(posOf(n), "%s must be a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (r *reader) boolean(n *yaml.Node, what string) bool {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		r.errf(posOf(n), "%s must be a bool, got %s", what, kindName(n))
		return false
	}
	var b bool
	_ = n.Decode(&b)
	return b
}

func (r *reader) integer(n *yaml.Node, what string) (int64, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		r.errf(posOf(n), "%s must be an int, got %s", what, kindName(n))
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		r.errf(posOf(n), "%s: %v", what, err)
		return 0, false
	}
	return v, true
}

func (r *reader) number(n *yaml.Node, what string) (float64, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		r.errf(posOf(n), "%s must be a number, got %s", what, kindName(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		var f float64
		if n.Decode(&f) != nil {
			r.errf(posOf(n), "%s: bad number %q", what, n.Value)
			return 0, false
		}
		v = f
	}
	return v, true
}

func (r *reader) seq(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		r.errf(posOf(n), "%s must be a list, got %s", what, kindName(n))
		return nil, false
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out, true
}

func (r *reader) strList(n *yaml.Node, what string) []string {
	items, ok := r.seq(n, what)
	if !ok {
		return nil
	}
	var out []string
	for i, it := range items {
		if s, ok := r.str(it, fmt.Sprintf("%s[%d]", what, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// value decodes a YAML value into the payload value model.
func (r *reader) value(n *yaml.Node, what string) (any, bool) {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			_ = n.Decode(&b)
			return b, true
		case "!!int":
			var v int64
			if err := n.Decode(&v); err != nil {
				r.errf(posOf(n), "%s: %v", what, err)
				return nil, false
			}
			return v, true
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				r.errf(posOf(n), "%s: %v", what, err)
				return nil, false
			}
			return f, true
		case "!!str":
			return n.Value, true
		}
		r.errf(posOf(n), "%s: unsupported value tag %s", what, n.Tag)
		return nil, false
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			v, ok := r.value(c, what)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
				r.errf(posOf(k), "%s: dict keys must be strings", what)
				return nil, false
			}
			v, ok := r.value(n.Content[i+1], what)
			if !ok {
				return nil, false
			}
			out[k.Value] = v
		}
		return out, true
	}
	r.errf(posOf(n), "%s: unsupported value", what)
	return nil, false
}
