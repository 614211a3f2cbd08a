package bindrt

import (
	"context"
	"testing"
	"time"

	scriptlingerrors "github.com/paularlott/scriptling/errors"
	"github.com/paularlott/scriptling/object"
)

func TestTypeName(t *testing.T) {
	cls := &object.Class{Name: "Widget"}
	cases := []struct {
		v    object.Object
		want string
	}{
		{nil, "NoneType"}, {null, "NoneType"}, {num(1), "int"}, {flt(1), "float"}, {yes, "bool"},
		{str(""), "str"}, {list(), "list"}, {tuple(), "tuple"}, {dict(), "dict"}, {&object.Set{}, "set"},
		{&object.Builtin{}, "function"}, {&object.Function{}, "function"}, {&object.LambdaFunction{}, "function"},
		{&object.BoundMethod{}, "function"}, {cls, "type"}, {&object.Instance{Class: cls}, "Widget"},
	}
	for _, c := range cases {
		if got := TypeName(c.v); got != c.want {
			t.Errorf("TypeName(%T) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	wantExc(t, TypeError("f()", "p", "int", str("")), typeErr, "f(): p must be int, got str")
	wantExc(t, ValueError("%s: %s must be >= %d, got %d", "f()", "p", 1, 0), valueErr, "f(): p must be >= 1, got 0")
	wantExc(t, ArgTypeError("%s missing required argument '%s'", "f()", "p"), typeErr, "f() missing required argument 'p'")
}

func TestContextError(t *testing.T) {
	if got := ContextError(context.Background()); got != nil {
		t.Errorf("live context: got %v, want nil", got)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		ctx  context.Context
		want string
	}{{cancelled, scriptlingerrors.ErrCancelled}, {expired, scriptlingerrors.ErrTimeout}} {
		got, ok := ContextError(c.ctx).(*object.Error)
		if !ok || got.Message != c.want {
			t.Errorf("got %#v, want the interpreter's own %q error", got, c.want)
		}
	}
}
