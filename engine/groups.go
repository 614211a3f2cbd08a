package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Node groups.
//
// A group is the set of alive nodes (this one included) whose metadata
// matches its criteria. Membership is recomputed from the peer table on
// the script's goroutine: when a state or metadata event is dispatched and
// at the start of every group method. The previous set is kept, so each
// node's entry and exit is reported exactly once, whatever mix of state
// changes, metadata changes and flaps caused it.

// NodeGroup tracks the nodes matching a set of metadata criteria.
type NodeGroup struct {
	c         *Cluster
	criteria  map[string]string
	onAdded   func(Node)
	onRemoved func(Node)
	stateID   int
	metaID    int

	mu      sync.Mutex
	members map[string]Node
	closed  bool
}

// CreateNodeGroup starts tracking the alive nodes whose metadata matches
// every entry of criteria: an exact value, "*" (the key is present) or
// "~sub" (the value contains sub). Non-string values match by their text
// ("3", "2.5", "true"). onAdded and onRemoved (either may be nil) are
// called once when a node enters or leaves the group, in Dispatch; nodes
// matching at creation are reported as added by the first dispatch.
func (c *Cluster) CreateNodeGroup(criteria map[string]string, onAdded func(Node), onRemoved func(Node)) (*NodeGroup, error) {
	if err := checkCriteria(criteria, "criteria"); err != nil {
		return nil, err
	}
	g := &NodeGroup{c: c, criteria: maps.Clone(criteria), onAdded: onAdded, onRemoved: onRemoved, members: map[string]Node{}}
	refresh := func() { g.reconcile() }
	g.stateID = c.addStateListener(func(string, string) { refresh() })
	g.metaID = c.addMetaListener(func(Node) { refresh() }, true)
	c.queue.push(event{kind: evCall, fn: refresh}, pushForce)
	return g, nil
}

// checkCriteria validates metadata criteria.
func checkCriteria(criteria map[string]string, name string) error {
	for k := range criteria {
		if k == "" {
			return fmt.Errorf("%w: %s keys must not be empty", ErrInvalidArgument, name)
		}
	}
	return nil
}

// matchCriteria reports whether metadata satisfies every criterion.
func matchCriteria(criteria map[string]string, metadata map[string]any) bool {
	for k, want := range criteria {
		v, ok := metadata[k]
		if !ok {
			return false
		}
		got := metaText(v)
		switch {
		case want == "*":
		case strings.HasPrefix(want, "~"):
			if !strings.Contains(got, want[1:]) {
				return false
			}
		case got != want:
			return false
		}
	}
	return true
}

// metaText is the text a metadata value is matched by.
func metaText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// reconcile recomputes the members and reports entries and exits. It runs
// on the dispatching goroutine only.
func (g *NodeGroup) reconcile() {
	if g.c.state.Load() != stateRunning {
		return
	}
	now := map[string]Node{}
	for _, n := range g.c.AliveNodes() {
		if matchCriteria(g.criteria, n.Metadata) {
			now[n.ID] = n
		}
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	var added, removed []Node
	for id, n := range now {
		if _, ok := g.members[id]; !ok {
			added = append(added, n)
		}
	}
	for id, n := range g.members {
		if _, ok := now[id]; !ok {
			if cur, known := g.c.GetNode(id); known {
				n = cur // report the node as it is now (dead, or changed)
			}
			removed = append(removed, n)
		}
	}
	g.members = now
	g.mu.Unlock()
	byID := func(a, b Node) int { return cmpString(a.ID, b.ID) }
	slices.SortFunc(removed, byID)
	slices.SortFunc(added, byID)
	for _, n := range removed {
		if g.onRemoved != nil {
			g.c.safeCall(func() { g.onRemoved(n) })
		}
	}
	for _, n := range added {
		if g.onAdded != nil {
			g.c.safeCall(func() { g.onAdded(n) })
		}
	}
}

// Dispatch runs the cluster's queued handlers (group callbacks included).
func (g *NodeGroup) Dispatch() {
	g.c.Dispatch()
	g.reconcile()
}

// Nodes returns the group's members sorted by id; none once closed.
func (g *NodeGroup) Nodes() []Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Node, 0, len(g.members))
	for _, n := range g.members {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int { return cmpString(a.ID, b.ID) })
	return out
}

// Contains reports whether the node with id is a member.
func (g *NodeGroup) Contains(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.members[id]
	return ok
}

// Count is the number of members.
func (g *NodeGroup) Count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}

// SendToPeers sends payload to every member but this node.
func (g *NodeGroup) SendToPeers(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration) error {
	g.mu.Lock()
	closed := g.closed
	ids := make(map[string]bool, len(g.members))
	for id := range g.members {
		ids[id] = true
	}
	g.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: the node group is closed", ErrNotRunning)
	}
	return g.c.sendMany(ctx, msgType, payload, reliable, timeout, "", func(p *peerInfo) bool { return ids[p.id] })
}

// Close stops tracking: the callbacks are not called again and the group
// is empty. Closing twice does nothing.
func (g *NodeGroup) Close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.members = map[string]Node{}
	g.mu.Unlock()
	g.c.RemoveHandler(g.stateID)
	g.c.RemoveHandler(g.metaID)
}
