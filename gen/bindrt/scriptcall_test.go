package bindrt

import (
	"context"
	"maps"
	"testing"

	"github.com/paularlott/scriptling"
	"github.com/paularlott/scriptling/evaluator"
	"github.com/paularlott/scriptling/object"
)

// capture evaluates src, in which calls to capture(f) hand the callable f to
// Go, and returns what was captured in order.
func capture(t *testing.T, src string) []*ScriptCall {
	t.Helper()
	var calls []*ScriptCall
	if _, err := probeInterpreter(&calls, nil).Eval("import probe\n" + src); err != nil {
		t.Fatalf("script failed: %v", err)
	}
	return calls
}

// probeInterpreter returns an interpreter with a library probe whose
// capture(f) appends f to *calls, plus the builtins in extra.
func probeInterpreter(calls *[]*ScriptCall, extra map[string]*object.Builtin) *scriptling.Scriptling {
	builtins := map[string]*object.Builtin{
		"capture": {Fn: func(ctx context.Context, _ object.Kwargs, args ...object.Object) object.Object {
			c, exc := NewScriptCall(ctx, "capture()", "f", args[0])
			if exc != nil {
				return exc
			}
			*calls = append(*calls, c)
			return None
		}},
	}
	maps.Copy(builtins, extra)
	p := scriptling.New()
	p.RegisterLibrary(object.NewLibrary("probe", builtins, nil, ""))
	return p
}

// TestScriptCallAccepted checks how many of three arguments, the first one
// required, each kind of callable is given.
func TestScriptCallAccepted(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want int
	}{
		{"one parameter", "def f(a):\n    pass\nprobe.capture(f)", 1},
		{"two parameters", "def f(a, b):\n    pass\nprobe.capture(f)", 2},
		{"more parameters than arguments", "def f(a, b, c, d=0):\n    pass\nprobe.capture(f)", 3},
		{"defaults", "def f(a, b=1, c=2):\n    pass\nprobe.capture(f)", 3},
		{"*args", "def f(*args):\n    pass\nprobe.capture(f)", 3},
		{"keyword-only", "def f(a, b, *, c=1):\n    pass\nprobe.capture(f)", 2},
		{"lambda", "probe.capture(lambda a, b: None)", 2},
		{"bound method", "class C:\n    def m(self, a, b):\n        pass\nprobe.capture(C().m)", 2},
		{"bound method *args", "class C:\n    def m(self, *args):\n        pass\nprobe.capture(C().m)", 3},
		{"builtin", "probe.capture(print)", 1},
	}
	args := []object.Object{num(1), num(2), num(3)}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := capture(t, c.src)
			if len(calls) != 1 {
				t.Fatalf("%d callables captured", len(calls))
			}
			if got := len(calls[0].Accepted(1, args...)); got != c.want {
				t.Errorf("%d arguments accepted, want %d", got, c.want)
			}
		})
	}
}

// TestScriptCallCall calls captured callables after the script ended: a
// result, a raised error, and a bound method's self.
func TestScriptCallCall(t *testing.T) {
	calls := capture(t, `
def add(a, b):
    return a + b
def fail(a):
    raise ValueError("no " + str(a))
class C:
    def __init__(self):
        self.k = 10
    def m(self, a):
        return self.k + a
probe.capture(add)
probe.capture(fail)
probe.capture(C().m)
`)
	res, _, ok := calls[0].Call(num(2), num(3))
	if !ok || res.(*object.Integer).IntValue() != 5 {
		t.Errorf("add: %v %v", res, ok)
	}
	if _, text, ok := calls[1].Call(num(7)); ok || text != "no 7" {
		t.Errorf("fail: ok %v, message %q", ok, text)
	}
	res, _, ok = calls[2].Call(num(1))
	if !ok || res.(*object.Integer).IntValue() != 11 {
		t.Errorf("bound method: %v %v", res, ok)
	}
}

func TestNewScriptCallRefusesNonCallables(t *testing.T) {
	_, exc := NewScriptCall(context.Background(), "on()", "handler", num(1))
	wantExc(t, exc, typeErr, "on(): handler must be callable, got int")
	_, exc = NewScriptCall(context.Background(), "on()", "handler", null)
	wantExc(t, exc, typeErr, "on(): handler must be callable, got NoneType")
	// A callable outside any evaluation cannot be called later.
	_, exc = NewScriptCall(context.Background(), "on()", "handler", &object.Builtin{})
	wantExc(t, exc, object.ExceptionTypeRuntimeError, "on(): no evaluator available to call handler")
}

// TestDetachKeepsValuesDropsCancellation checks the context a ScriptCall
// runs with: the builtin's values stay, its cancellation does not reach
// the call, and looking a value up allocates nothing (the interpreter
// looks values up on every call).
func TestDetachKeepsValuesDropsCancellation(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := detach(parent)
	cancel()
	if ctx.Err() != nil || ctx.Done() != nil {
		t.Errorf("the detached context ended with its parent: err %v", ctx.Err())
	}
	if got := ctx.Value(key{}); got != "v" {
		t.Errorf("value: got %v, want v", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = ctx.Value(key{}) }); n != 0 {
		t.Errorf("a value lookup allocated %v times", n)
	}
}

// TestScriptCallArgumentsNotShared checks that the arguments of one call
// never change what an earlier call was given: a callable keeps each
// argument (a plain function, a lambda, *args, whose list would be a view
// of the argument slice, and a bound method), and is called again while
// it runs, from inside the call.
func TestScriptCallArgumentsNotShared(t *testing.T) {
	var calls []*ScriptCall
	p := probeInterpreter(&calls, map[string]*object.Builtin{
		// again(i, v) calls the i-th captured callable with v from inside a call.
		"again": {Fn: func(_ context.Context, _ object.Kwargs, args ...object.Object) object.Object {
			if _, text, ok := calls[args[0].(*object.Integer).IntValue()].Call(args[1]); !ok {
				return &object.Exception{Message: text}
			}
			return None
		}},
	})
	_, err := p.Eval(`import probe
kept = []
def plain(a):
    kept.append(a)
def star(*args):
    kept.append(args)
def nested(a):
    if a == 1:
        probe.again(3, 2)
    kept.append(a)
class C:
    def m(self, a):
        kept.append(a)
probe.capture(plain)
probe.capture(lambda a: kept.append(a))
probe.capture(star)
probe.capture(nested)
probe.capture(C().m)
`)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		for _, v := range []int64{1, 3} {
			if _, text, ok := c.Call(num(v)); !ok {
				t.Fatalf("callable %d raised %s", i, text)
			}
		}
	}
	got, err := p.Eval("str(kept)")
	if err != nil {
		t.Fatal(err)
	}
	want := "[1, 3, 1, 3, [1], [3], 2, 1, 3, 1, 3]"
	if s := got.(*object.String).StringValue(); s != want {
		t.Errorf("kept %s\nwant %s", s, want)
	}
}

// TestDetachCopiesInterpreterValues checks that the call depth and source
// file the interpreter looks up on every call are those of the builtin's
// context, found at the top of the detached one.
func TestDetachCopiesInterpreterValues(t *testing.T) {
	parent := evaluator.ContextWithSourceFile(evaluator.ContextWithCallDepth(context.Background(), 7), "main.py")
	type other struct{}
	parent = context.WithValue(parent, other{}, 1) // more values between
	ctx := detach(parent)
	if got, want := evaluator.GetCallDepthFromContext(ctx), evaluator.GetCallDepthFromContext(parent); got != want {
		t.Errorf("call depth %p, want the builtin's %p", got, want)
	}
	if got := evaluator.GetSourceFileFromContext(ctx); got != "main.py" {
		t.Errorf("source file %q, want main.py", got)
	}
	if got := evaluator.GetSourceFileFromContext(detach(context.Background())); got != "" {
		t.Errorf("source file %q without one", got)
	}
	if evaluator.GetCallDepthFromContext(detach(context.Background())) != nil {
		t.Error("a call depth without one")
	}
}
