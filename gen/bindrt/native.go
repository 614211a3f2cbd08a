package bindrt

import (
	"context"
	"sync"

	"github.com/paularlott/scriptling/object"
)

// Native returns the Go value of class className that a script object wraps.
func Native[T any](fn, name, className string, v object.Object) (T, *object.Exception) {
	if inst, ok := v.(*object.Instance); ok {
		if x, ok := inst.NativeData.(T); ok {
			return x, nil
		}
	}
	var zero T
	return zero, TypeError(fn, name, "a "+className, v)
}

// NativeSelf returns the instance a method was called on through its class
// (the instance comes first) and the Go value it wraps.
func NativeSelf[T any](fn, className string, args []object.Object) (*object.Instance, T, *object.Exception) {
	var zero T
	if len(args) == 0 {
		return nil, zero, ArgTypeError("%s must be called on a %s", fn, className)
	}
	x, exc := Native[T](fn, "self", className, args[0])
	if exc != nil {
		return nil, zero, exc
	}
	return args[0].(*object.Instance), x, nil
}

// Method is a method implementation called on a known instance inst whose
// Go value is v.
type Method[T any] func(ctx context.Context, inst *object.Instance, v T, kwargs object.Kwargs, args []object.Object) object.Object

// Bind returns method as a builtin bound to inst, whose Go value is v.
func Bind[T any](inst *object.Instance, v T, help string, method Method[T]) *object.Builtin {
	return &object.Builtin{
		HelpText: help,
		Fn: func(ctx context.Context, kwargs object.Kwargs, args ...object.Object) object.Object {
			return method(ctx, inst, v, kwargs, args)
		},
	}
}

// LiveSet holds the script objects of one class whose Go values have not
// been cleaned up yet, so that a runtime reset can clean up what scripts
// left behind. The zero value is empty and ready.
type LiveSet[T comparable] struct {
	mu  sync.Mutex
	set map[*object.Instance]T
}

// Add records inst, which wraps v.
func (l *LiveSet[T]) Add(inst *object.Instance, v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil {
		l.set = map[*object.Instance]T{}
	}
	l.set[inst] = v
}

// Forget drops an instance the script cleaned up itself.
func (l *LiveSet[T]) Forget(inst *object.Instance) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.set, inst)
}

// Drain empties the set and returns each Go value once, however many
// instances wrap it.
func (l *LiveSet[T]) Drain() []T {
	l.mu.Lock()
	items := l.set
	l.set = nil
	l.mu.Unlock()
	seen := make(map[T]bool, len(items))
	out := make([]T, 0, len(items))
	for _, v := range items {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
