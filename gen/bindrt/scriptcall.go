package bindrt

import (
	"context"
	"sync/atomic"

	"github.com/paularlott/scriptling/evaliface"
	"github.com/paularlott/scriptling/evaluator"
	"github.com/paularlott/scriptling/object"
)

// ScriptCall is a script callable captured so that Go code can call it
// later, after the builtin that received it has returned.
type ScriptCall struct {
	ctx  context.Context
	eval evaliface.Evaluator
	env  *object.Environment
	fn   object.Object
	self object.Object // set when fn was a bound method

	// A call made through the interpreter's evaluator interface makes its
	// argument slice escape: one allocation per call. When fn is known not
	// to keep the slice it is given (a script function or lambda without
	// *args, whose arguments are copied into its frame), the arguments go
	// in buf instead; busy keeps a call made while another is running
	// (a handler dispatching events itself) from sharing it.
	reuse bool
	busy  atomic.Bool
	buf   [4]object.Object
}

// NewScriptCall checks that v is callable and captures what calling it
// needs from the builtin's context; name is the parameter v was given as.
func NewScriptCall(ctx context.Context, fn, name string, v object.Object) (*ScriptCall, *object.Exception) {
	c := &ScriptCall{
		ctx:  detach(ctx),
		eval: evaliface.FromContext(ctx),
		env:  evaluator.GetEnvFromContext(ctx),
		fn:   v,
	}
	switch f := v.(type) {
	case *object.Function, *object.LambdaFunction, *object.Builtin:
	case *object.BoundMethod:
		// CallObjectFunction does not accept bound methods: call the method with self first.
		c.fn, c.self = f.Method, f.Instance
	default:
		return nil, TypeError(fn, name, "callable", v)
	}
	switch f := c.fn.(type) {
	case *object.Function:
		c.reuse = f.Variadic == nil // *args would be a list over the slice
	case *object.LambdaFunction:
		c.reuse = f.Variadic == nil
	}
	if c.eval == nil {
		return nil, &object.Exception{ExceptionType: object.ExceptionTypeRuntimeError, Message: fn + ": no evaluator available to call " + name}
	}
	return c, nil
}

// Call runs the callable and returns its result, or the message of the
// error it raised and false.
func (c *ScriptCall) Call(args ...object.Object) (object.Object, string, bool) {
	n := len(args)
	if c.self != nil {
		n++
	}
	// args itself never reaches the interpreter, so that callers' argument
	// lists stay on their stacks.
	var all []object.Object
	if c.reuse && n <= len(c.buf) && c.busy.CompareAndSwap(false, true) {
		all = c.buf[:0]
		defer func() {
			clear(c.buf[:]) // do not keep the arguments alive until the next call
			c.busy.Store(false)
		}()
	} else {
		all = make([]object.Object, 0, n)
	}
	if c.self != nil {
		all = append(all, c.self)
	}
	all = append(all, args...)
	res := c.eval.CallObjectFunction(c.ctx, c.fn, all, nil, c.env)
	switch e := res.(type) {
	case *object.Exception:
		return nil, e.Message, false
	case *object.Error:
		return nil, e.Message, false
	}
	return res, "", true
}

// Accepted drops the trailing optional arguments (those after the first
// required) that the callable cannot take, so that a callable written for
// a shorter signature keeps working. A script function or lambda takes as
// many as it has positional parameters, or all of them with *args; a
// builtin's arity cannot be known, so it gets only the required ones.
func (c *ScriptCall) Accepted(required int, args ...object.Object) []object.Object {
	n := required
	switch f := c.fn.(type) {
	case *object.Function:
		n = positionalParams(len(f.Parameters), f.KeywordOnlyStart, f.Variadic != nil, len(args))
	case *object.LambdaFunction:
		n = positionalParams(len(f.Parameters), f.KeywordOnlyStart, f.Variadic != nil, len(args))
	}
	if c.self != nil {
		n-- // a bound method's first parameter is self
	}
	return args[:min(max(n, required), len(args))]
}

// positionalParams is how many positional arguments a function with these
// parameters takes; with *args, all of the given ones.
func positionalParams(params, keywordOnlyStart int, variadic bool, given int) int {
	switch {
	case variadic:
		return given + 1 // one more than given, so that a bound method's self is allowed for
	case keywordOnlyStart > 0:
		return keywordOnlyStart - 1
	}
	return params
}

// detachedKey marks the context of a ScriptCall.
type detachedKey struct{}

// detach keeps ctx's values and drops its cancellation: the call outlives
// the builtin that captured it. The interpreter looks two values up on
// every call, the call depth and the source file (absent unless the script
// came from a file: that lookup walks the whole chain), so both are copied
// to the top of the chain. A value context also stays on top because a
// lookup made directly on WithoutCancel's context allocates; one made
// through a value context walks the chain without allocating.
func detach(ctx context.Context) context.Context {
	d := context.WithValue(context.WithoutCancel(ctx), detachedKey{}, true)
	if cd := evaluator.GetCallDepthFromContext(ctx); cd != nil {
		d = evaluator.SetCallDepthInContext(d, cd)
	}
	return evaluator.ContextWithSourceFile(d, evaluator.GetSourceFileFromContext(ctx))
}
