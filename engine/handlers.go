package engine

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// extras holds the state of request/reply, removable handlers and
// metadata events. It lives in one Cluster field so the
// features built on it stay out of the core types.
type extras struct {
	nextID atomic.Int64 // source of handler ids (state, metadata, internal)

	// Under Cluster.handlersMu.
	stateIDs      []int // id of Cluster.stateHandlers[i]
	metaHandlers  []metaListener
	replyHandlers map[int]func(Message) (any, error)

	// Request/reply (request.go).
	reqMu    sync.Mutex
	pending  map[uint64]*pendingRequest
	nextReq  atomic.Uint64
	inflight atomic.Int32 // received requests waiting for Dispatch
}

// metaListener is a metadata-change callback; internal listeners (node
// groups) also hear about local changes, user handlers only remote ones.
type metaListener struct {
	id       int
	fn       func(Node)
	internal bool
}

// newHandlerID returns a fresh id for a removable handler.
func (c *Cluster) newHandlerID() int { return int(c.x.nextID.Add(1)) }

// Unhandle removes the handler (plain or with reply) of msgType and
// reports whether there was one.
func (c *Cluster) Unhandle(msgType int) (bool, error) {
	if err := checkMsgType(msgType); err != nil {
		return false, err
	}
	c.handlersMu.Lock()
	defer c.handlersMu.Unlock()
	_, plain := c.handlers[msgType]
	_, reply := c.x.replyHandlers[msgType]
	delete(c.handlers, msgType)
	delete(c.x.replyHandlers, msgType)
	return plain || reply, nil
}

// OnMetadataChange registers fn, called with a snapshot of a remote node
// (its metadata as of the change) once for every new version of that
// node's metadata that reaches this node. Versions replaced before they
// arrive are never seen, so a burst of changes may be reported as one.
// The returned id can be passed to RemoveHandler.
func (c *Cluster) OnMetadataChange(fn func(Node)) int {
	if fn == nil {
		return 0
	}
	return c.addMetaListener(fn, false)
}

func (c *Cluster) addMetaListener(fn func(Node), internal bool) int {
	id := c.newHandlerID()
	c.handlersMu.Lock()
	c.x.metaHandlers = append(c.x.metaHandlers, metaListener{id: id, fn: fn, internal: internal})
	c.handlersMu.Unlock()
	return id
}

// addStateListener registers fn like OnStateChange and returns its id.
func (c *Cluster) addStateListener(fn func(string, string)) int {
	id := c.newHandlerID()
	c.handlersMu.Lock()
	c.stateHandlers = append(c.stateHandlers, fn)
	c.x.stateIDs = append(c.x.stateIDs, id)
	c.handlersMu.Unlock()
	return id
}

// RemoveHandler removes a state-change or metadata-change handler by the
// id its registration returned, and reports whether it was registered.
func (c *Cluster) RemoveHandler(id int) bool {
	c.handlersMu.Lock()
	defer c.handlersMu.Unlock()
	if i := slices.Index(c.x.stateIDs, id); i >= 0 && i < len(c.stateHandlers) {
		c.x.stateIDs = slices.Delete(c.x.stateIDs, i, i+1)
		c.stateHandlers = slices.Delete(slices.Clone(c.stateHandlers), i, i+1)
		return true
	}
	if i := slices.IndexFunc(c.x.metaHandlers, func(l metaListener) bool { return l.id == id }); i >= 0 {
		c.x.metaHandlers = slices.Delete(slices.Clone(c.x.metaHandlers), i, i+1)
		return true
	}
	return false
}

// metaChanged queues a metadata-change event for owner's new values when
// someone listens. It may be called with the metadata lock held, so it
// only queues; the listeners run in Dispatch.
func (c *Cluster) metaChanged(owner string, values map[string]any, remote bool) {
	c.handlersMu.RLock()
	n := 0
	for _, l := range c.x.metaHandlers {
		if remote || l.internal {
			n++
		}
	}
	c.handlersMu.RUnlock()
	if n == 0 {
		return
	}
	c.queue.push(event{kind: evCall, fn: func() { c.runMetaListeners(owner, values, remote) }}, pushForce)
}

// runMetaListeners calls the metadata listeners for one change.
func (c *Cluster) runMetaListeners(owner string, values map[string]any, remote bool) {
	c.handlersMu.RLock()
	ls := slices.Clone(c.x.metaHandlers)
	c.handlersMu.RUnlock()
	for _, l := range ls {
		if !remote && !l.internal {
			continue
		}
		n := c.senderSnapshot(owner)
		n.Metadata = cloneValues(values)
		c.safeCall(func() { l.fn(n) })
	}
}

// errHandlerType reports a nil handler where one is required.
func errNilHandler(what string) error {
	return fmt.Errorf("%w: %s must not be None", ErrInvalidArgument, what)
}
