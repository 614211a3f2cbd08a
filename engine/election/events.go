package election

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// Election event types passed to OnEvent handlers.
const (
	EventElected      = "elected"       // a leader became known (its id)
	EventLost         = "lost"          // the known leader is gone (its id)
	EventBecameLeader = "became_leader" // this node became leader
	EventSteppedDown  = "stepped_down"  // this node stopped being leader
)

var electionEvents = []string{EventElected, EventLost, EventBecameLeader, EventSteppedDown}

// OnEvent registers fn for eventType ("elected", "lost", "became_leader"
// or "stepped_down"); fn gets the event type, the leader's node id and the
// term of that leadership. A leadership is a leader and a term: a leader
// that is elected again in a newer term is lost and elected again.
func (e *Election) OnEvent(eventType string, fn func(eventType string, nodeID string, term int)) error {
	if !slices.Contains(electionEvents, eventType) {
		return fmt.Errorf("%w: event_type must be one of %s, got %q", engine.ErrInvalidArgument, strings.Join(electionEvents, ", "), eventType)
	}
	if fn == nil {
		return fmt.Errorf("%w: handler must not be None", engine.ErrInvalidArgument)
	}
	e.mu.Lock()
	e.handlers[eventType] = append(e.handlers[eventType], fn)
	e.mu.Unlock()
	return nil
}

// updateLocked queues events when the known leadership changed.
func (e *Election) updateLocked(now time.Time) {
	cur, term := e.currentLocked(now)
	old, oldTerm := e.lastLeader, e.lastTerm
	if cur == old && term == oldTerm {
		return
	}
	e.lastLeader, e.lastTerm = cur, term
	self := e.id
	if cur == "" && old != self {
		e.vacantSince = now
	}
	if old == self {
		e.emit(EventSteppedDown, self, oldTerm)
	}
	if old != "" {
		e.emit(EventLost, old, oldTerm)
	}
	if cur != "" {
		e.emit(EventElected, cur, term)
	}
	if cur == self {
		e.emit(EventBecameLeader, self, term)
	}
}

// emit queues the handlers of one event for Dispatch.
func (e *Election) emit(kind, nodeID string, term uint64) {
	e.c.Post(func() {
		e.mu.Lock()
		fns := slices.Clone(e.handlers[kind])
		e.mu.Unlock()
		for _, fn := range fns {
			e.c.RunHandler(func() { fn(kind, nodeID, int(term)) })
		}
	})
}
