package bindrt

import (
	"math"
	"testing"
	"time"

	"github.com/paularlott/scriptling/object"
)

// scalarCase is one argument given to a converter: what it should become,
// or the exception it should raise.
type scalarCase struct {
	in   object.Object
	want any
	kind string // exception class; empty for success
	msg  string
}

// runScalar runs a converter over cases, as function f() with parameter p.
func runScalar[T comparable](t *testing.T, conv func(fn, name string, v object.Object) (T, *object.Exception), cases []scalarCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.in.Inspect(), func(t *testing.T) {
			got, exc := conv("f()", "p", c.in)
			wantExc(t, exc, c.kind, c.msg)
			if c.kind == "" && any(got) != c.want {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestArgStr(t *testing.T) {
	runScalar(t, ArgStr, []scalarCase{
		{in: str("a"), want: "a"},
		{in: str(""), want: ""},
		{in: num(1), kind: typeErr, msg: "f(): p must be str, got int"},
		{in: null, kind: typeErr, msg: "f(): p must be str, got NoneType"},
		{in: list(str("a")), kind: typeErr, msg: "f(): p must be str, got list"},
	})
}

func TestArgInt(t *testing.T) {
	runScalar(t, ArgInt, []scalarCase{
		{in: num(42), want: int64(42)},
		{in: num(-7), want: int64(-7)},
		{in: flt(1.0), kind: typeErr, msg: "f(): p must be int, got float"},
		// bool is not an int here, unlike in Python.
		{in: yes, kind: typeErr, msg: "f(): p must be int, got bool"},
		{in: null, kind: typeErr, msg: "f(): p must be int, got NoneType"},
		{in: str("1"), kind: typeErr, msg: "f(): p must be int, got str"},
	})
}

func TestArgFloat(t *testing.T) {
	runScalar(t, ArgFloat, []scalarCase{
		{in: flt(2.5), want: 2.5},
		{in: num(3), want: 3.0},
		{in: yes, kind: typeErr, msg: "f(): p must be float, got bool"},
		{in: null, kind: typeErr, msg: "f(): p must be float, got NoneType"},
	})
}

func TestArgBool(t *testing.T) {
	runScalar(t, ArgBool, []scalarCase{
		{in: yes, want: true},
		{in: object.NewBoolean(false), want: false},
		{in: num(1), kind: typeErr, msg: "f(): p must be bool, got int"},
		{in: null, kind: typeErr, msg: "f(): p must be bool, got NoneType"},
	})
}

func TestArgDuration(t *testing.T) {
	runScalar(t, ArgDuration, []scalarCase{
		{in: num(2), want: 2 * time.Second},
		{in: flt(0.25), want: 250 * time.Millisecond},
		{in: str("1m30s"), want: 90 * time.Second},
		{in: str("-5ms"), want: -5 * time.Millisecond},
		{in: str("soon"), kind: valueErr, msg: `f(): p must be a duration such as "500ms" or "2s", got "soon"`},
		{in: flt(math.NaN()), kind: valueErr, msg: "f(): p must be a finite number of seconds, got NaN"},
		{in: flt(math.Inf(1)), kind: valueErr, msg: "f(): p must be a finite number of seconds, got +Inf"},
		{in: flt(1e12), kind: valueErr, msg: "f(): p must be a finite number of seconds, got 1e+12"},
		{in: yes, kind: typeErr, msg: "f(): p must be int, float or a duration string, got bool"},
		{in: null, kind: typeErr, msg: "f(): p must be int, float or a duration string, got NoneType"},
	})
}

func TestArgScalar(t *testing.T) {
	cases := []struct {
		accept Accept
		in     object.Object
		want   any
		msg    string
	}{
		{AcceptStr | AcceptInt | AcceptFloat | AcceptBool, str("s"), "s", ""},
		{AcceptStr | AcceptInt | AcceptFloat | AcceptBool, num(1), int64(1), ""},
		{AcceptStr | AcceptInt | AcceptFloat | AcceptBool, flt(1.5), 1.5, ""},
		{AcceptStr | AcceptInt | AcceptFloat | AcceptBool, yes, true, ""},
		// An int given for int|float stays an int; for float alone it becomes one.
		{AcceptInt | AcceptFloat, num(2), int64(2), ""},
		{AcceptFloat, num(2), 2.0, ""},
		{AcceptInt | AcceptFloat, str("2"), nil, "f(): p must be int or float, got str"},
		{AcceptInt | AcceptFloat, yes, nil, "f(): p must be int or float, got bool"},
		{AcceptInt | AcceptFloat, null, nil, "f(): p must be int or float, got NoneType"},
		{AcceptInt, flt(2), nil, "f(): p must be int or float, got float"},
	}
	for _, c := range cases {
		got, exc := ArgScalar("f()", "p", c.in, c.accept, "int or float")
		if c.msg != "" {
			wantExc(t, exc, typeErr, c.msg)
			continue
		}
		wantExc(t, exc, "", "")
		if got != c.want {
			t.Errorf("accept %b, %s: got %#v, want %#v", c.accept, c.in.Inspect(), got, c.want)
		}
	}
}

// TestScalarsDoNotAllocate keeps the success path of every scalar converter
// free of allocations: the generated builtins rely on it.
func TestScalarsDoNotAllocate(t *testing.T) {
	s, i, f, b := str("250ms"), num(3), flt(0.5), yes
	n := testing.AllocsPerRun(100, func() {
		_, _ = ArgStr("f()", "p", s)
		_, _ = ArgInt("f()", "p", i)
		_, _ = ArgFloat("f()", "p", f)
		_, _ = ArgBool("f()", "p", b)
		_, _ = ArgDuration("f()", "p", i)
		_, _ = ArgDuration("f()", "p", f)
		_, _ = ArgDuration("f()", "p", s)
		_ = IsNone(s)
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}
