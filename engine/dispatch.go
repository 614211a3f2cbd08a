package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Handlers never run on memberlist's goroutines: the Scriptling interpreter
// is not safe for concurrent use, so every handler call is queued and run
// only by Dispatch or Wait, on the caller's goroutine, in arrival order.

// eventKind tells queued events apart.
type eventKind uint8

const (
	evMessage eventKind = iota + 1
	evState
	evCall // run fn: replies, metadata events, groups, elections
)

// event is one queued handler invocation.
type event struct {
	kind    eventKind
	msgType int
	sender  string
	payload any
	// raw is a message's encoded payload (rawFlags: its envelope's flags),
	// decoded into payload when the event is dispatched; nil when payload
	// is already decoded.
	raw      []byte
	rawFlags byte
	nodeID   string
	state    string
	fn       func() // evCall
}

// pushMode says what to do when the queue is full.
type pushMode uint8

const (
	pushDrop  pushMode = iota // give up (unreliable messages)
	pushBlock                 // wait for room or close (reliable messages)
	pushForce                 // ignore the bound (state changes, self-sends)
)

// eventQueue is a FIFO bounded in the number of message events. State
// events and self-sends are forced in past the bound: state events come
// from the peer table at most once per node transition, so they
// are bounded by cluster churn, and refusing them would lose transitions;
// self-sends usually come from a handler running inside Dispatch, which
// would deadlock if it had to wait for Dispatch to make room.
type eventQueue struct {
	mu     sync.Mutex
	space  *sync.Cond
	items  []event
	head   int
	msgs   int // message events queued, bounded by limit
	limit  int
	closed bool
	wake   func() // called on every push: the pump's wake-up

	// Stall detection (stall.go): when the queue last became non-empty,
	// when it was last dispatched, and whether this stall was reported.
	nonEmptySince time.Time
	lastDispatch  time.Time
	stallReported bool
}

func newEventQueue(limit int, wake func()) *eventQueue {
	q := &eventQueue{limit: limit, wake: wake, lastDispatch: time.Now()}
	q.space = sync.NewCond(&q.mu)
	return q
}

// push appends ev; it returns false when the event was not queued (queue
// full in pushDrop mode, or queue closed).
func (q *eventQueue) push(ev event, mode pushMode) bool {
	q.mu.Lock()
	if ev.kind == evMessage && mode != pushForce {
		for !q.closed && q.msgs >= q.limit {
			if mode == pushDrop {
				q.mu.Unlock()
				return false
			}
			q.space.Wait()
		}
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.head == len(q.items) {
		q.nonEmptySince = time.Now()
	}
	q.items = append(q.items, ev)
	if ev.kind == evMessage {
		q.msgs++
	}
	q.mu.Unlock()
	q.wake()
	return true
}

// pushWithin queues a message event, waiting up to wait for room; it
// returns false when the queue stayed full or is closed. Unlike push it
// does not wake the pump: the caller does (q.wake) once it has scheduled
// the message's acknowledgement (see receiverTable.receive).
func (q *eventQueue) pushWithin(ev event, wait time.Duration) bool {
	q.mu.Lock()
	if !q.closed && q.msgs >= q.limit && wait > 0 {
		expired := false
		t := time.AfterFunc(wait, func() {
			q.mu.Lock()
			expired = true
			q.space.Broadcast()
			q.mu.Unlock()
		})
		for !q.closed && q.msgs >= q.limit && !expired {
			q.space.Wait()
		}
		t.Stop()
	}
	if q.closed || q.msgs >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head == len(q.items) {
		q.nonEmptySince = time.Now()
	}
	q.items = append(q.items, ev)
	q.msgs++
	q.mu.Unlock()
	return true
}

// messages is the number of message events queued.
func (q *eventQueue) messages() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.msgs
}

// popInto moves the oldest events into dst, as many as fit, and returns
// how many it moved: Dispatch takes a run of events per lock instead of
// one, which matters when a fast sender keeps the queue full.
func (q *eventQueue) popInto(dst []event) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := copy(dst, q.items[q.head:])
	msgs := 0
	for i := range n {
		if dst[i].kind == evMessage {
			msgs++
		}
	}
	clear(q.items[q.head : q.head+n])
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	if msgs > 0 {
		q.msgs -= msgs
		q.space.Broadcast() // waiters may have given up (pushWithin): wake them all
	}
	return n
}

// keepEvents is the room an empty queue keeps. A burst grows the queue to
// what it needs (a node joining a cluster of N queues N state events at
// once); an idle node should not hold that burst's array, so trimIdle
// gives it back.
const keepEvents = 16

// trimIdle releases the array of an empty queue grown past keepEvents. It
// runs with the stall check, not on every pop, so that a busy queue, which
// empties after each dispatch, keeps its array between bursts.
func (q *eventQueue) trimIdle() {
	q.mu.Lock()
	if q.head == len(q.items) && cap(q.items) > keepEvents {
		q.items, q.head = nil, 0
	}
	q.mu.Unlock()
}

// depth is the number of queued events.
func (q *eventQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// close wakes blocked pushers and refuses further events; queued events
// stay so a final Dispatch can still run them.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.space.Broadcast()
	q.mu.Unlock()
}

// Handle registers fn for msgType, replacing any previous handler; a nil fn
// removes it.
func (c *Cluster) Handle(msgType int, fn func(Message)) error {
	if err := checkMsgType(msgType); err != nil {
		return err
	}
	c.handlersMu.Lock()
	defer c.handlersMu.Unlock()
	if fn == nil {
		delete(c.handlers, msgType)
	} else {
		c.handlers[msgType] = fn
		delete(c.x.replyHandlers, msgType) // one handler per type
	}
	return nil
}

// OnStateChange registers fn, called with a node id and its new state
// ("alive" when a node joins or recovers, "suspect", "dead", "leaving").
// Every registered function is called, in registration order. The
// returned id can be passed to RemoveHandler.
func (c *Cluster) OnStateChange(fn func(nodeID string, state string)) int {
	if fn == nil {
		return 0
	}
	return c.addStateListener(fn)
}

// checkMsgType enforces the user message type range.
func checkMsgType(t int) error {
	if t < MinUserMessageType || t > 65535 {
		return fmt.Errorf("%w: message type must be from %d to 65535, got %d", ErrInvalidArgument, MinUserMessageType, t)
	}
	return nil
}

// Dispatch runs the queued handler calls of this node, and of the other
// nodes sharing its pump (Config.Pump), on the calling goroutine and
// returns how many ran; see Pump.Dispatch.
func (c *Cluster) Dispatch() int {
	return c.pump.Dispatch()
}

// dispatchOwn runs this node's queued handler calls, unless they are
// already running further up this goroutine's stack.
func (c *Cluster) dispatchOwn() int {
	if !c.dispatching.CompareAndSwap(false, true) {
		return 0
	}
	defer c.dispatching.Store(false)
	c.queue.dispatched()
	ran := 0
	var run [dispatchRun]event
	for left := c.queue.depth(); left > 0; {
		n := c.queue.popInto(run[:min(left, len(run))])
		if n == 0 {
			break
		}
		left -= n
		for i := range n {
			ran += c.runEvent(run[i])
			run[i] = event{} // let the payload go once handled
		}
	}
	return ran
}

// dispatchRun is how many events Dispatch takes from the queue at a time.
// Events taken are out of the queue's bound, so the run stays short.
const dispatchRun = 32

// runEvent runs the handlers for one event and returns how many ran.
func (c *Cluster) runEvent(ev event) int {
	switch ev.kind {
	case evMessage:
		c.handlersMu.RLock()
		fn := c.handlers[ev.msgType]
		c.handlersMu.RUnlock()
		if fn == nil {
			c.stats.noHandler.Add(1)
			return 0
		}
		if ev.raw != nil {
			v, err := decodeOwnedPayload(ev.raw, ev.rawFlags)
			if err != nil {
				c.payloadError(ev.sender, ev.msgType, err)
				return 0
			}
			ev.payload = v
		}
		msg := Message{Type: ev.msgType, Sender: c.senderSnapshot(ev.sender), Payload: ev.payload}
		c.safeCall(func() { fn(msg) })
		return 1
	case evState:
		c.handlersMu.RLock()
		fns := slices.Clone(c.stateHandlers)
		c.handlersMu.RUnlock()
		for _, fn := range fns {
			c.safeCall(func() { fn(ev.nodeID, ev.state) })
		}
		return len(fns)
	case evCall:
		c.safeCall(ev.fn)
		return 1
	}
	return 0
}

// safeCall runs fn, recovering and logging a panic so one failing handler
// does not take the caller (and the rest of the queue) down.
func (c *Cluster) safeCall(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.stats.handlerErrors.Add(1)
			c.log.Error("handler panicked", "panic", fmt.Sprint(r))
		}
	}()
	fn()
}

// Wait dispatches handlers (this node's and those of the nodes sharing
// its pump) as events arrive until timeout passes, the cluster stops or
// ctx ends; a negative timeout waits until the cluster stops. Events still
// queued when the cluster stops are dispatched before Wait returns. It
// returns ctx's error when ctx ended the wait, else nil.
func (c *Cluster) Wait(ctx context.Context, timeout time.Duration) error {
	return c.pump.waitUntil(ctx, timeout, c.stopCh)
}
