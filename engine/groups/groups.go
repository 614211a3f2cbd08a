package groups

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// Group tracks the nodes matching a set of metadata criteria.
type Group struct {
	c         *engine.Cluster
	criteria  map[string]string
	onAdded   func(engine.Node)
	onRemoved func(engine.Node)
	unwatch   []func()

	mu      sync.Mutex
	members map[string]engine.Node
	closed  bool
}

// New starts tracking the alive nodes of c whose metadata matches every
// entry of criteria (see Match). onAdded and onRemoved (either may be nil)
// are called once when a node enters or leaves the group, in Dispatch;
// nodes matching at creation are reported as added by the first dispatch.
func New(c *engine.Cluster, criteria map[string]string, onAdded func(engine.Node), onRemoved func(engine.Node)) (*Group, error) {
	if err := CheckCriteria(criteria, "criteria"); err != nil {
		return nil, err
	}
	g := &Group{c: c, criteria: maps.Clone(criteria), onAdded: onAdded, onRemoved: onRemoved, members: map[string]engine.Node{}}
	g.unwatch = []func(){
		c.WatchState(func(string, string) { g.reconcile() }),
		c.WatchMetadata(func(engine.Node) { g.reconcile() }),
	}
	c.Post(g.reconcile)
	return g, nil
}

// reconcile recomputes the members and reports entries and exits. It runs
// on the dispatching goroutine only.
func (g *Group) reconcile() {
	if !g.c.Running() {
		return
	}
	now := map[string]engine.Node{}
	for _, n := range g.c.AliveNodes() {
		if Counted(g.criteria, n) {
			now[n.ID] = n
		}
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	var added, removed []engine.Node
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
	slices.SortFunc(removed, byID)
	slices.SortFunc(added, byID)
	for _, n := range removed {
		if g.onRemoved != nil {
			g.c.RunHandler(func() { g.onRemoved(n) })
		}
	}
	for _, n := range added {
		if g.onAdded != nil {
			g.c.RunHandler(func() { g.onAdded(n) })
		}
	}
}

func byID(a, b engine.Node) int { return strings.Compare(a.ID, b.ID) }

// Dispatch runs the cluster's queued handlers (group callbacks included)
// and brings the members up to date.
func (g *Group) Dispatch() {
	g.c.Dispatch()
	g.reconcile()
}

// Nodes returns the group's members sorted by id; none once closed.
func (g *Group) Nodes() []engine.Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]engine.Node, 0, len(g.members))
	for _, n := range g.members {
		out = append(out, n)
	}
	slices.SortFunc(out, byID)
	return out
}

// Contains reports whether the node with id is a member.
func (g *Group) Contains(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.members[id]
	return ok
}

// Count is the number of members.
func (g *Group) Count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}

// SendToPeers sends payload to every member but this node, as
// Cluster.Send does to every node.
func (g *Group) SendToPeers(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration) error {
	g.mu.Lock()
	closed := g.closed
	ids := slices.Collect(maps.Keys(g.members))
	g.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: the node group is closed", engine.ErrNotRunning)
	}
	return g.c.SendToNodes(ctx, ids, msgType, payload, reliable, timeout)
}

// Close stops tracking: the callbacks are not called again and the group
// is empty. Closing twice does nothing.
func (g *Group) Close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.members = map[string]engine.Node{}
	g.mu.Unlock()
	for _, f := range g.unwatch {
		f()
	}
}
