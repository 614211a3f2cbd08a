package engine

import "sync"

// Listeners for feature packages.
//
// A node group recomputes its members whenever a node changes state or
// metadata. It subscribes with WatchState and WatchMetadata rather than
// OnStateChange and OnMetadataChange, so its subscriptions are not the
// script's handlers: RemoveHandler ids the script holds never name them,
// and metadata listeners hear this node's own changes too (a group counts
// this node when it matches).

// WatchState subscribes fn to node state changes and returns the function
// that unsubscribes it (calling it again does nothing). fn is called as an
// OnStateChange handler is: inside Dispatch, once per change in the order
// the changes happened, together with the OnStateChange handlers in
// registration order. A nil fn subscribes nothing.
func (c *Cluster) WatchState(fn func(nodeID, state string)) (remove func()) {
	if fn == nil {
		return func() {}
	}
	return c.remover(c.addStateListener(fn))
}

// WatchMetadata subscribes fn to metadata changes of every node, this one
// included (OnMetadataChange reports remote nodes only), and returns the
// function that unsubscribes it. fn gets the node with its metadata as of
// the change, inside Dispatch, in the order the changes reached this node;
// like OnMetadataChange it sees each version that arrives, so a burst of
// changes may be reported as one. A nil fn subscribes nothing.
func (c *Cluster) WatchMetadata(fn func(Node)) (remove func()) {
	if fn == nil {
		return func() {}
	}
	return c.remover(c.addMetaListener(fn, true))
}

// remover returns a function removing the listener id once.
func (c *Cluster) remover(id int) func() {
	var once sync.Once
	return func() { once.Do(func() { c.RemoveHandler(id) }) }
}
