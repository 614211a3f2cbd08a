package engine

import "github.com/hashicorp/memberlist"

// membershipEvents applies memberlist's join, update and leave events to
// the peer table. memberlist calls them while holding its node lock, so
// they only record the change (peertable.go) and wake the peer loop, which
// runs what the change sets off; they never call back into memberlist.
//
// The Node memberlist passes is its own table entry: its state (which tells
// a graceful leave from a failure, and a join from an update) is read from
// it during the call (mlstate.go), and its fields are copied before the
// call returns.
type membershipEvents struct{ c *Cluster }

var _ memberlist.EventDelegate = membershipEvents{}

func (e membershipEvents) NotifyJoin(n *memberlist.Node)   { e.apply(n) }
func (e membershipEvents) NotifyLeave(n *memberlist.Node)  { e.apply(n) }
func (e membershipEvents) NotifyUpdate(n *memberlist.Node) { e.apply(n) }

func (e membershipEvents) apply(n *memberlist.Node) {
	t := &e.c.peers
	t.applyNode(n, t.layout.stateOfEventNode(n))
}
