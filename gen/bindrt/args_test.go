package bindrt

import (
	"testing"

	"github.com/paularlott/scriptling/object"
)

func TestCheckArgs(t *testing.T) {
	names := []string{"a", "b", "c"}
	kw := func(keys ...string) map[string]object.Object {
		m := map[string]object.Object{}
		for _, k := range keys {
			m[k] = num(1)
		}
		return m
	}
	args := func(n int) []object.Object { return make([]object.Object, n) }
	cases := []struct {
		name          string
		names         []string
		maxPositional int
		required      int
		args          []object.Object
		kwargs        map[string]object.Object
		msg           string // empty: accepted
	}{
		{"all positional", names, 3, 1, args(3), nil, ""},
		{"required only", names, 3, 1, args(1), nil, ""},
		{"required by keyword", names, 3, 2, args(1), kw("b"), ""},
		{"keyword-only by keyword", names, 2, 0, nil, kw("c"), ""},
		{"too many", names, 2, 0, args(3), nil, "f() takes at most 2 arguments, got 3"},
		{"no positional", nil, 0, 0, args(1), nil, "f() takes no positional arguments, got 1"},
		{"unknown keyword", names, 3, 0, nil, kw("z"), "f() got an unexpected keyword argument 'z'"},
		{"first unknown keyword", names, 3, 0, nil, kw("z", "y", "a"), "f() got an unexpected keyword argument 'y'"},
		{"repeated", names, 3, 0, args(2), kw("b"), "f() got multiple values for argument 'b'"},
		{"missing", names, 3, 2, args(1), nil, "f() missing required argument 'b'"},
		{"missing first", names, 3, 2, nil, kw("b"), "f() missing required argument 'a'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exc := CheckArgs("f()", c.names, c.maxPositional, c.required, c.args, c.kwargs)
			if c.msg == "" {
				wantExc(t, exc, "", "")
				return
			}
			wantExc(t, exc, typeErr, c.msg)
		})
	}
}

func TestArg(t *testing.T) {
	names := []string{"a", "b", "c"}
	a, b := str("a"), str("b")
	args := []object.Object{a}
	kwargs := map[string]object.Object{"b": b}
	if got := Arg(names, 0, args, kwargs); got != a {
		t.Errorf("positional: got %v", got)
	}
	if got := Arg(names, 1, args, kwargs); got != b {
		t.Errorf("keyword: got %v", got)
	}
	if got := Arg(names, 2, args, kwargs); got != nil {
		t.Errorf("not given: got %v, want nil", got)
	}
}

func TestIsNone(t *testing.T) {
	if !IsNone(null) || !IsNone(None) {
		t.Error("None is not None")
	}
	if IsNone(str("")) || IsNone(num(0)) || IsNone(nil) {
		t.Error("a value or a missing argument is None")
	}
}
