package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// defaultBind is the observer's listen address when -bind is not given:
// the local address the kernel routes from to reach the first peer, port
// 0 for a free one. Dialling UDP only consults the routing table; nothing
// is sent.
//
// This one rule serves both places an observer runs. Next to a cluster on
// loopback it gives 127.0.0.1, so the observer listens on loopback only,
// as the cluster does. On another host it gives the address of the
// interface facing the cluster, which the cluster can reach back, and
// nothing else is opened. A wildcard bind (0.0.0.0) would instead
// advertise the default route's interface (engine/bindaddr.go), which is
// wrong for a cluster reached over a second interface, and would listen on
// every interface for no gain. Behind NAT, -advertise names the address
// peers must use.
func defaultBind(peer string) (string, error) {
	conn, err := net.Dial("udp", peer)
	if err != nil {
		return "", fmt.Errorf("PEER %s: no route to it to choose -bind from: %v", peer, err)
	}
	defer conn.Close()
	ip := conn.LocalAddr().(*net.UDPAddr).IP
	return net.JoinHostPort(ip.String(), "0"), nil
}

// waitSettled waits until every alive member's metadata has arrived and
// the members and their states have stayed the same for settleFor; it
// reports false when ctx ends first. It dispatches the (unused) event
// queue meanwhile, so nothing waits there.
func waitSettled(ctx context.Context, c *engine.Cluster) bool {
	t := time.NewTicker(settlePoll)
	defer t.Stop()
	last, since := viewKey(c.Nodes()), time.Now()
	for {
		c.Dispatch()
		if key := viewKey(c.Nodes()); key != last {
			last, since = key, time.Now()
		}
		if c.MetadataCurrent() && time.Since(since) >= settleFor {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// viewKey is the member ids and states, in id order.
func viewKey(nodes []engine.Node) string {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(n.ID)
		b.WriteByte('=')
		b.WriteString(n.State)
		b.WriteByte(0)
	}
	return b.String()
}

// listedNodes is the membership to print: every known node but the
// observer itself, in id order.
func listedNodes(c *engine.Cluster) []engine.Node {
	return slices.DeleteFunc(c.Nodes(), func(n engine.Node) bool { return n.ID == c.NodeID() })
}

// warnUnreachable warns when the observer advertises loopback to a cluster
// whose members advertise other addresses: members on other hosts cannot
// reach it and will report it failed rather than left.
func (o *membersOptions) warnUnreachable(c *engine.Cluster) {
	if !isLoopback(c.LocalNode().Addr) {
		return
	}
	for _, n := range c.AliveNodes() {
		if n.ID != c.NodeID() && !isLoopback(n.Addr) {
			fmt.Fprintf(o.stderr, "members: warning: %s advertises %s, this observer %s, which nodes on other hosts "+
				"cannot reach (they will report it failed, not left); give a PEER address they share, or -bind\n",
				n.ID, n.Addr, c.LocalNode().Addr)
			return
		}
	}
}

// isLoopback reports whether "host:port" names a loopback IP.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
