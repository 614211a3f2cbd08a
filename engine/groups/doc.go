// Package groups tracks node groups: the alive nodes of a cluster whose
// metadata matches a set of criteria. It is built on the engine's public
// API only.
//
// A group is the set of alive nodes (this one included) whose metadata
// matches its criteria (criteria.go), observers excepted: an observer
// only watches the cluster and is never counted. Membership is recomputed
// from the node list on the handler goroutine: whenever a state or
// metadata change is dispatched (the group subscribes with
// Cluster.WatchState and Cluster.WatchMetadata, which, unlike the
// script's OnMetadataChange, also report this node's own changes), once
// right after New (Cluster.Post, so the nodes matching at creation are
// reported as added by the first dispatch), and on Group.Dispatch. The
// previous set is kept, so each node's entry and exit is reported exactly
// once, whatever mix of state changes, metadata changes and flaps caused
// it; exits first, then entries, each sorted by id, every callback run
// through Cluster.RunHandler so one that panics does not skip the others.
//
// SendToPeers sends to the members with Cluster.SendToNodes. Close
// unsubscribes: the callbacks are not called again.
//
// Leader election (package election) selects its eligible nodes with the
// same criteria (Match, Counted).
package groups
