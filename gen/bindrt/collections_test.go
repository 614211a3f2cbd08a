package bindrt

import (
	"reflect"
	"testing"

	"github.com/paularlott/scriptling/object"
)

// collectionCase is one argument given to a collection converter.
type collectionCase struct {
	name string
	in   object.Object
	want any
	kind string
	msg  string
}

func runCollection[T any](t *testing.T, conv func(fn, name string, v object.Object) (T, *object.Exception), cases []collectionCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, exc := conv("f()", "p", c.in)
			wantExc(t, exc, c.kind, c.msg)
			if c.kind == "" && !reflect.DeepEqual(any(got), c.want) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestArgStrList(t *testing.T) {
	runCollection(t, ArgStrList, []collectionCase{
		{name: "list", in: list(str("a"), str("b")), want: []string{"a", "b"}},
		{name: "tuple", in: tuple(str("a")), want: []string{"a"}},
		{name: "empty", in: list(), want: []string{}},
		{name: "one string", in: str("a"), kind: typeErr, msg: "f(): p must be a list of str, got str"},
		{name: "None", in: null, kind: typeErr, msg: "f(): p must be a list of str, got NoneType"},
		{name: "bad item", in: list(str("a"), num(2)), kind: typeErr, msg: "f(): p[1] must be str, got int"},
		{name: "None item", in: list(null), kind: typeErr, msg: "f(): p[0] must be str, got NoneType"},
	})
}

func TestArgStrOrList(t *testing.T) {
	runCollection(t, ArgStrOrList, []collectionCase{
		{name: "one", in: str("a"), want: []string{"a"}},
		{name: "list", in: list(str("a"), str("b")), want: []string{"a", "b"}},
		{name: "int", in: num(1), kind: typeErr, msg: "f(): p must be str or a list of str, got int"},
		{name: "None", in: null, kind: typeErr, msg: "f(): p must be str or a list of str, got NoneType"},
		{name: "bad item", in: tuple(yes), kind: typeErr, msg: "f(): p[0] must be str, got bool"},
	})
}

func TestArgStrDict(t *testing.T) {
	runCollection(t, ArgStrDict, []collectionCase{
		{name: "dict", in: dict(str("k"), str("v")), want: map[string]string{"k": "v"}},
		{name: "empty", in: dict(), want: map[string]string{}},
		{name: "list", in: list(), kind: typeErr, msg: "f(): p must be a dict of str to str, got list"},
		{name: "None", in: null, kind: typeErr, msg: "f(): p must be a dict of str to str, got NoneType"},
		{name: "int key", in: dict(num(1), str("v")), kind: typeErr, msg: "f(): p key must be str, got int"},
		{name: "bad value", in: dict(str("k"), num(1)), kind: typeErr, msg: `f(): p["k"] must be str, got int`},
	})
}

func TestArgAny(t *testing.T) {
	runCollection(t, ArgAny, []collectionCase{
		{name: "None", in: null, want: nil},
		{name: "scalars", in: list(yes, num(1), flt(1.5), str("s")), want: []any{true, int64(1), 1.5, "s"}},
		{name: "nested", in: dict(str("a"), tuple(dict(str("b"), null))), want: map[string]any{"a": []any{map[string]any{"b": nil}}}},
		{name: "int key", in: dict(str("a"), dict(num(1), null)), kind: typeErr, msg: `f(): p["a"] keys must be str, got int`},
		{name: "bad leaf", in: list(str("a"), dict(str("x"), list(&object.Set{}))), kind: typeErr, msg: `f(): p[1]["x"][0] must be str, int, float, bool, None, list or dict, got set`},
		{name: "function", in: &object.Builtin{}, kind: typeErr, msg: "f(): p must be str, int, float, bool, None, list or dict, got function"},
	})
}

// TestArgAnyNestingIsBounded checks that a list holding itself fails with a
// ValueError rather than recursing until the stack runs out.
func TestArgAnyNestingIsBounded(t *testing.T) {
	l := &object.List{}
	l.Elements = []object.Object{l}
	_, exc := ArgAny("f()", "p", l)
	if exc == nil || exc.ExceptionType != valueErr {
		t.Fatalf("got %v, want a ValueError", exc)
	}
	want := "is nested more than 100 levels deep"
	if len(exc.Message) < len(want) || exc.Message[len(exc.Message)-len(want):] != want {
		t.Fatalf("message %q does not end with %q", exc.Message, want)
	}
}

func TestArgAnyList(t *testing.T) {
	runCollection(t, ArgAnyList, []collectionCase{
		{name: "list", in: list(num(1), null), want: []any{int64(1), nil}},
		{name: "dict", in: dict(), kind: typeErr, msg: "f(): p must be a list, got dict"},
		{name: "None", in: null, kind: typeErr, msg: "f(): p must be a list, got NoneType"},
		{name: "bad item", in: list(&object.Set{}), kind: typeErr, msg: "f(): p[0] must be str, int, float, bool, None, list or dict, got set"},
	})
}

func TestArgAnyDict(t *testing.T) {
	runCollection(t, ArgAnyDict, []collectionCase{
		{name: "dict", in: dict(str("n"), num(1)), want: map[string]any{"n": int64(1)}},
		{name: "list", in: list(), kind: typeErr, msg: "f(): p must be a dict, got list"},
		{name: "None", in: null, kind: typeErr, msg: "f(): p must be a dict, got NoneType"},
	})
}
