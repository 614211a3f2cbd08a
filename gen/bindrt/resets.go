package bindrt

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/paularlott/scriptling/extlibs"
)

// ResetList lists the interpreters (of one generated library) holding
// objects the next runtime reset must clean up. Scriptling offers only a
// process-wide reset (extlibs.ResetRuntime), so the list is process-wide
// too, while each interpreter keeps its own objects. The zero value is an
// empty list.
type ResetList[T comparable] struct {
	mu   sync.Mutex
	list []T
	// armed tells whether the list's cleanup is in extlibs' list. A runtime
	// reset runs that list and then empties it, so the cleanup clears this
	// flag and the next Arm puts it back.
	armed atomic.Bool
}

// Arm makes sure the next runtime reset calls cleanup once for every
// tracked value; call it from Register, with the same cleanup every time.
func (r *ResetList[T]) Arm(cleanup func(T)) {
	if !r.armed.CompareAndSwap(false, true) {
		return
	}
	extlibs.RegisterCleanup(func() {
		r.armed.Store(false)
		r.mu.Lock()
		list := r.list
		r.list = nil
		r.mu.Unlock()
		for _, v := range list {
			cleanup(v)
		}
	})
}

// Track puts v on the list, once however often it is tracked.
func (r *ResetList[T]) Track(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.list, v) {
		r.list = append(r.list, v)
	}
}
