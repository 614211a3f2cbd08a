package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// NodesByTag returns the alive nodes carrying tag, this one included when
// it has the tag, sorted by id.
func (c *Cluster) NodesByTag(tag string) ([]Node, error) {
	if tag == "" {
		return nil, fmt.Errorf("%w: tag must not be empty", ErrInvalidArgument)
	}
	var out []Node
	for _, n := range c.AliveNodes() {
		if hasTag(n.Tags, tag) {
			out = append(out, n)
		}
	}
	return out, nil
}

// GetNode returns the node with id as known here (this node included), or
// false when no such node is known.
func (c *Cluster) GetNode(id string) (Node, bool) {
	if id == c.id {
		return c.LocalNode(), true
	}
	if !c.running() {
		return Node{}, false
	}
	p := c.peers.get(id)
	if p == nil {
		return Node{}, false
	}
	return c.snapshotOf(p), true
}

// NumSuspect is the number of nodes currently suspected of having failed.
func (c *Cluster) NumSuspect() int { return c.countState(StateSuspect) }

// NumDead is the number of nodes known to have failed (not those that
// left gracefully, which are "leaving").
func (c *Cluster) NumDead() int { return c.countState(StateDead) }

func (c *Cluster) countState(s State) int {
	n := 0
	for _, node := range c.Nodes() {
		if node.State == string(s) {
			n++
		}
	}
	return n
}

// IsLocal reports whether id is this node's id.
func (c *Cluster) IsLocal(id string) bool { return id == c.id }

// Candidates returns up to n alive peers (never this node) picked at
// random, in random order: a fresh sample on every call, for spreading
// work or gossip of one's own.
func (c *Cluster) Candidates(n int) ([]Node, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: n must not be negative, got %d", ErrInvalidArgument, n)
	}
	if !c.running() {
		return []Node{}, nil
	}
	peers := slices.Clone(c.alivePeers(nil))
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	out := make([]Node, 0, min(n, len(peers)))
	for _, p := range peers[:min(n, len(peers))] {
		out = append(out, c.snapshotOf(p))
	}
	return out, nil
}
