// Package engine is the cluster engine behind the Scriptling gossip
// library: membership and failure detection (hashicorp/memberlist), node
// metadata, and user messages with optional reliable, ordered delivery.
//
// Handlers never run on network goroutines. Incoming messages and node
// state changes are queued and run only inside Dispatch or Wait, on the
// caller's goroutine, because the Scriptling interpreter is single-threaded.
//
// Security: EncryptionKey encrypts every packet and stream (AES-GCM);
// BearerToken admits only nodes that share the token and authenticates every
// message. The token's join proof can be replayed by an on-path attacker when
// traffic is not encrypted, so the recommended setup is both together.
//
// # Core and features
//
// This package is the core. Features are layered on it in their own
// packages, which use only its exported API, the way serf is built on
// memberlist:
//
//   - engine/groups: node groups, the alive nodes matching metadata
//     criteria;
//   - engine/election: leader election with terms and leases. Every node
//     of a cluster that runs elections votes, so every node must be
//     enabled (election.Enable); the Scriptling binding enables each node
//     it creates.
//
// What features need beyond a script's API is exported on purpose
// (features.go, channels.go, listeners.go): feature channels (OpenChannel,
// message types 64 to 127, which user handlers cannot take), membership
// and metadata listeners (WatchState, WatchMetadata), per-node state
// (Extension), callbacks run where handlers run (Post, RunHandler), the
// lifecycle (Done, Running, CanSend) and sends to a set of nodes
// (SendToNodes). The core imports no feature.
package engine
