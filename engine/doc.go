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
package engine
