package bindrt

import (
	"context"
	"fmt"
	"strings"

	scriptlingerrors "github.com/paularlott/scriptling/errors"
	"github.com/paularlott/scriptling/object"
)

// TypeName is the Python name of an object's type, for error messages.
func TypeName(v object.Object) string {
	switch o := v.(type) {
	case nil, *object.Null:
		return "NoneType"
	case *object.Integer:
		return "int"
	case *object.Float:
		return "float"
	case *object.Boolean:
		return "bool"
	case *object.String:
		return "str"
	case *object.List:
		return "list"
	case *object.Tuple:
		return "tuple"
	case *object.Dict:
		return "dict"
	case *object.Set:
		return "set"
	case *object.Function, *object.LambdaFunction, *object.Builtin, *object.BoundMethod:
		return "function"
	case *object.Class:
		return "type"
	case *object.Instance:
		return o.Class.Name
	}
	return strings.ToLower(v.Type().String())
}

// TypeError reports an argument of the wrong type as
// "fn: name must be expected, got type".
func TypeError(fn, name, expected string, got object.Object) *object.Exception {
	return &object.Exception{
		ExceptionType: object.ExceptionTypeTypeError,
		Message:       fn + ": " + name + " must be " + expected + ", got " + TypeName(got),
	}
}

// ValueError reports an argument of the right type but a refused value.
func ValueError(format string, args ...any) *object.Exception {
	return &object.Exception{ExceptionType: object.ExceptionTypeValueError, Message: fmt.Sprintf(format, args...)}
}

// ArgTypeError reports a call that does not match the parameter list.
func ArgTypeError(format string, args ...any) *object.Exception {
	return &object.Exception{ExceptionType: object.ExceptionTypeTypeError, Message: fmt.Sprintf(format, args...)}
}

// ContextError reports a call that failed while the evaluation's context was
// ending the way the interpreter itself reports it, so that an embedder's
// EvalWithContext gets its own timeout or cancellation error rather than a
// library error; nil while the context is live.
func ContextError(ctx context.Context) object.Object {
	switch ctx.Err() {
	case nil:
		return nil
	case context.DeadlineExceeded:
		return scriptlingerrors.NewTimeoutError()
	}
	return scriptlingerrors.NewCancelledError()
}
