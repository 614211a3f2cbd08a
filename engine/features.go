package engine

import (
	"context"
	"sync"
	"time"
)

// Features: the API that packages built on the engine use.
//
// Leader election (engine/election) and node groups (engine/groups) are
// written against the engine's exported API only, the way serf is built
// on memberlist. What they need beyond what a script uses is here and in
// channels.go and listeners.go:
//
//   - Extension keeps a feature's per-node state with the node;
//   - Post and RunHandler run a feature's callbacks where the script's
//     handlers run (Dispatch), with the same panic handling;
//   - Done, Running and CanSend tell a feature's goroutines about the
//     node's lifecycle;
//   - SendToNodes sends a user message to a set of nodes (a group's
//     members, an election's electorate);
//   - OpenChannel (channels.go) gives a feature its own message type,
//     outside the range user handlers can take;
//   - WatchState and WatchMetadata (listeners.go) subscribe to membership
//     and metadata changes.

// featureState is the per-node state of the feature API.
type featureState struct {
	extMu      sync.Mutex // held while an extension is created
	extensions map[any]any
	chanMu     sync.RWMutex // read on every channel message received
	channels   map[int]ChannelHandler
}

// Extension returns the value kept with this node under key, calling
// create to make it on the first call for key (under a lock, so
// concurrent first calls make one value). A feature package keeps its
// per-node state here, with the node, rather than in a package-level map:
// election's voter is one. key should be a value of an unexported type of
// the feature package, as with context.WithValue, so no two packages
// collide. create may open channels but must not call Extension.
func (c *Cluster) Extension(key any, create func() any) any {
	c.features.extMu.Lock()
	defer c.features.extMu.Unlock()
	if v, ok := c.features.extensions[key]; ok {
		return v
	}
	if c.features.extensions == nil {
		c.features.extensions = map[any]any{}
	}
	v := create()
	c.features.extensions[key] = v
	return v
}

// Post queues fn to run inside Dispatch (or Wait) on the handler
// goroutine, after the events already queued, as a handler runs: a panic
// is recovered, logged and counted in Stats().HandlerErrors. A feature
// calls the script's callbacks this way (election events, a group's
// initial members), never from its own goroutines. It reports false when
// fn will not run because the node has stopped.
func (c *Cluster) Post(fn func()) bool {
	if fn == nil {
		return false
	}
	return c.queue.push(event{kind: evCall, fn: fn}, pushForce)
}

// RunHandler runs fn at once, recovering a panic as the engine does for
// handlers (logged, counted in Stats().HandlerErrors). A posted function
// that calls several user callbacks runs each through it, so one failing
// callback does not skip the others.
func (c *Cluster) RunHandler(fn func()) { c.safeCall(fn) }

// Done is closed when the node stops; a feature's goroutines end on it.
func (c *Cluster) Done() <-chan struct{} { return c.stopCh }

// Running reports whether the node is started and not stopped.
func (c *Cluster) Running() bool { return c.running() }

// CanSend reports whether the node may send: it is running and has not
// left (Leave stops sending; messages are still received until Stop).
func (c *Cluster) CanSend() bool { return c.running() && !c.left.Load() }

// SendToNodes sends payload to each node of ids that is alive, skipping
// this node and ids it does not know, with Send's semantics otherwise
// (reliable: waits for window space up to timeout and names the nodes
// that did not get it). Features send to their members with it: a group's
// nodes, an election's eligible nodes.
func (c *Cluster) SendToNodes(ctx context.Context, ids []string, msgType int, payload any, reliable bool, timeout time.Duration) error {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	return c.sendMany(ctx, msgType, payload, reliable, timeout, "", func(p *peerInfo) bool { return want[p.id] })
}
