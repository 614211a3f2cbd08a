package spec

import (
	"fmt"
	"strings"
)

var scalarKinds = map[string]Kind{
	"str":      Str,
	"int":      Int,
	"float":    Float,
	"bool":     Bool,
	"any":      Any,
	"duration": Duration,
	"callable": Callable,
	"none":     None,
}

// ParseType parses a type expression. Names that are not built in are
// returned as RecordKind placeholders; resolve binds them to records or classes.
func ParseType(expr string) (*Type, error) {
	s := strings.TrimSpace(expr)
	if s == "" {
		return nil, fmt.Errorf("empty type expression")
	}
	optional := false
	if strings.HasSuffix(s, "?") {
		optional = true
		s = strings.TrimSpace(strings.TrimSuffix(s, "?"))
	}
	t, err := parseUnion(s)
	if err != nil {
		return nil, fmt.Errorf("bad type %q: %v", expr, err)
	}
	t.Optional = optional
	t.Expr = strings.TrimSpace(expr)
	return t, nil
}

func splitTop(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func parseUnion(s string) (*Type, error) {
	parts := splitTop(s, '|')
	if len(parts) == 1 {
		return parseOne(strings.TrimSpace(parts[0]))
	}
	u := &Type{Kind: Union, Expr: s}
	seen := map[string]bool{}
	for _, p := range parts {
		a, err := parseOne(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		if seen[a.Expr] {
			return nil, fmt.Errorf("%s appears twice in the union", a.Expr)
		}
		seen[a.Expr] = true
		u.Alts = append(u.Alts, a)
	}
	if !u.IsScalarUnion() && !u.IsStrOrStrList() {
		return nil, fmt.Errorf("unsupported union: only str|list[str] and unions of str, int, float and bool are supported")
	}
	return u, nil
}

func parseOne(s string) (*Type, error) {
	if s == "" {
		return nil, fmt.Errorf("missing type")
	}
	if open := strings.IndexByte(s, '['); open >= 0 {
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("unbalanced brackets")
		}
		head, inner := s[:open], s[open+1:len(s)-1]
		switch head {
		case "list":
			elem, err := parseUnion(strings.TrimSpace(inner))
			if err != nil {
				return nil, err
			}
			if elem.Kind == Union || elem.Kind == None || elem.Kind == Callable {
				return nil, fmt.Errorf("list elements must be a single non-callable type")
			}
			return &Type{Kind: List, Expr: s, Elem: elem}, nil
		case "dict":
			kv := splitTop(inner, ',')
			if len(kv) != 2 {
				return nil, fmt.Errorf("dict takes two type arguments")
			}
			if strings.TrimSpace(kv[0]) != "str" {
				return nil, fmt.Errorf("dict keys must be str")
			}
			elem, err := parseUnion(strings.TrimSpace(kv[1]))
			if err != nil {
				return nil, err
			}
			if elem.Kind != Str && elem.Kind != Any {
				return nil, fmt.Errorf("dict values must be str or any")
			}
			return &Type{Kind: Dict, Expr: s, Elem: elem}, nil
		default:
			return nil, fmt.Errorf("unknown generic type %q", head)
		}
	}
	if strings.ContainsAny(s, "],? ") {
		return nil, fmt.Errorf("unexpected character in %q", s)
	}
	if k, ok := scalarKinds[s]; ok {
		return &Type{Kind: k, Expr: s}, nil
	}
	if !isIdent(s) {
		return nil, fmt.Errorf("%q is not a type name", s)
	}
	return &Type{Kind: RecordKind, Expr: s, Name: s}, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// walkTypes calls fn for t and every nested type.
func walkTypes(t *Type, fn func(*Type)) {
	if t == nil {
		return
	}
	fn(t)
	walkTypes(t.Elem, fn)
	for _, a := range t.Alts {
		walkTypes(a, fn)
	}
}
