package engine

import "slices"

// A suspect node has missed probes but has not been declared dead, and
// under CPU load or brief packet loss it is most often alive: memberlist
// keeps gossiping to it, and so do sends. A reliable broadcast that skipped
// it would silently miss a node that then refutes the suspicion; one that
// includes it keeps the message in the node's window until it answers or
// is declared dead (the message then fails and is counted).

// sendable reports whether messages may be addressed to a peer in state s.
func sendable(s State) bool {
	return s == StateAlive || s == StateSuspect
}

// sendTargets returns the peers (not self) a broadcast goes to, alive or
// suspect and accepted by keep, sorted by id. Like alivePeers, the slice is
// shared when keep is nil and no node is suspect.
func (c *Cluster) sendTargets(keep func(*peerInfo) bool) []*peerInfo {
	peers := c.alivePeers(keep)
	suspects := c.peers.suspectPeers(keep)
	if len(suspects) == 0 {
		return peers
	}
	out := make([]*peerInfo, 0, len(peers)+len(suspects))
	out = append(append(out, peers...), suspects...)
	slices.SortFunc(out, func(a, b *peerInfo) int { return cmpString(a.id, b.id) })
	return out
}

// suspectPeers returns the suspect peers accepted by keep; it walks the
// table only while some node is suspect, which is rare and brief.
func (t *peerTable) suspectPeers(keep func(*peerInfo) bool) []*peerInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.suspects == 0 {
		return nil
	}
	var out []*peerInfo
	for id, p := range t.nodes {
		if id != t.self && p.state == StateSuspect && (keep == nil || keep(p)) {
			out = append(out, p)
		}
	}
	return out
}
