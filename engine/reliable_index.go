package engine

import (
	"maps"
	"sync/atomic"
)

// readIndex is a read-only copy of a map that the reliable path looks up
// on every message (the sender of a destination, the record of a sender).
// Readers load it without a lock; the map's owner changes its own map
// under its mutex, which is rare (a new peer, a forgotten one), and
// publishes a fresh copy each time.
type readIndex[V any] struct {
	m atomic.Pointer[map[string]V]
}

// get returns the value for k in the last published copy.
func (x *readIndex[V]) get(k string) (V, bool) {
	if m := x.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// getBytes is get for a key held as bytes; it does not allocate.
func (x *readIndex[V]) getBytes(k []byte) (V, bool) {
	if m := x.m.Load(); m != nil {
		v, ok := (*m)[string(k)]
		return v, ok
	}
	var zero V
	return zero, false
}

// publish makes a copy of m the one readers see. The owner's mutex is held.
func (x *readIndex[V]) publish(m map[string]V) {
	cp := maps.Clone(m)
	x.m.Store(&cp)
}
