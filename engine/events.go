package engine

import "github.com/hashicorp/memberlist"

// membershipEvents marks the peer table stale whenever memberlist's
// membership changes. The scanner would pick the change up within one scan
// interval; marking it lets the next send or query refresh the table at once,
// so a node that has just been joined can be messaged straight away. The
// callbacks run under memberlist's node lock, so they only flip a flag.
type membershipEvents struct{ c *Cluster }

var _ memberlist.EventDelegate = membershipEvents{}

func (e membershipEvents) NotifyJoin(*memberlist.Node)   { e.c.peers.markStale() }
func (e membershipEvents) NotifyLeave(*memberlist.Node)  { e.c.peers.markStale() }
func (e membershipEvents) NotifyUpdate(*memberlist.Node) { e.c.peers.markStale() }

// refreshIfStale brings the peer table up to date when membership changed
// since the last refresh. It takes memberlist's node lock, so it must never
// be called from inside a memberlist delegate. Before Start has published
// the memberlist reader (and after Stop) it does nothing and leaves the flag
// set: a change seen while starting is not lost.
func (c *Cluster) refreshIfStale() {
	if c.running() && c.peers.stale.Swap(false) {
		c.peers.refresh(c)
	}
}
