package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A Pump runs the queued handlers of a set of clusters on one goroutine:
// the one that calls its Dispatch and Wait (for a script, the
// interpreter's). Clusters that share a pump are pumped together, so a
// script with two nodes runs both nodes' handlers whichever it waits on,
// and a node can send a request to another node of the same script and
// have the reply handled while it waits.
//
// A cluster joins the pump named in Config.Pump when it is created (or a
// pump of its own when none is named) and leaves it once it has stopped
// and its last queued events have run. A Pump is safe for concurrent use,
// but handlers only ever run on the goroutine calling Dispatch or Wait.
type Pump struct {
	mu       sync.Mutex
	clusters []*Cluster
	// dispatching is set while handlers run: a handler that calls back
	// into the library must not run other handlers re-entrantly.
	dispatching atomic.Bool
	// notify is signalled (without blocking) whenever an event is queued
	// on any member, so one wait covers them all.
	notify chan struct{}
}

// NewPump returns an empty pump.
func NewPump() *Pump {
	return &Pump{notify: make(chan struct{}, 1)}
}

// add makes c a member.
func (p *Pump) add(c *Cluster) {
	p.mu.Lock()
	p.clusters = append(p.clusters, c)
	p.mu.Unlock()
}

// members returns the clusters to pump, forgetting those that stopped with
// nothing left to run.
func (p *Pump) members() []*Cluster {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clusters = slices.DeleteFunc(p.clusters, func(c *Cluster) bool {
		return c.state.Load() == stateStopped && c.queue.depth() == 0
	})
	return slices.Clone(p.clusters)
}

// wake signals a waiter that an event was queued.
func (p *Pump) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Dispatch runs the handlers queued on every member and returns how many
// ran. A call made from inside a handler returns 0 at once, so a handler
// that calls back into the library never runs handlers re-entrantly. Only
// the events queued when a member's turn starts are run, so a handler that
// keeps sending to its own node cannot keep Dispatch from returning.
func (p *Pump) Dispatch() int {
	if !p.dispatching.CompareAndSwap(false, true) {
		return 0
	}
	defer p.dispatching.Store(false)
	ran := 0
	for _, c := range p.members() {
		ran += c.dispatchOwn()
	}
	return ran
}

// Running reports how many members have not stopped.
func (p *Pump) Running() int {
	n := 0
	for _, c := range p.members() {
		if c.state.Load() != stateStopped {
			n++
		}
	}
	return n
}

// Wait runs the members' handlers as events arrive until timeout passes
// or ctx ends; a negative timeout waits until no member is left running
// (at once when there is none). It returns ctx's error when ctx ended the
// wait, else nil.
func (p *Pump) Wait(ctx context.Context, timeout time.Duration) error {
	return p.waitUntil(ctx, timeout, nil)
}

// waitUntil is Wait that also ends when done is closed (after a last
// dispatch, so events queued before it still run).
func (p *Pump) waitUntil(ctx context.Context, timeout time.Duration, done <-chan struct{}) error {
	var timer <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	// Stopping is seen by polling: a member has no channel that closes
	// for the pump, and stopping is rare enough for a slow check.
	var poll <-chan time.Time
	if done == nil && timeout < 0 {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		poll = t.C
	}
	for {
		p.Dispatch()
		if poll != nil && p.Running() == 0 {
			p.Dispatch()
			return nil
		}
		select {
		case <-p.notify:
		case <-poll:
		case <-done:
			p.Dispatch()
			return nil
		case <-timer:
			p.Dispatch()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
