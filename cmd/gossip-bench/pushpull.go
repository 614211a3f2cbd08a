package main

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Figure 8: push/pull size and a late node's metadata.
//
// Bytes a node sends in one push/pull (memberlist's anti-entropy, also what
// a join does) in a cluster of N nodes: ours with 1 KiB of metadata per
// node, memberlist with a 480 B NodeMeta per node (its largest that fits).
// The engine's push/pull carries memberlist's node list (with the engine's
// small node header as NodeMeta) plus a digest of the metadata held, so it
// does not grow with the size of the maps. The push/pull is the measuring
// node's Join of a member it already knows, after the cluster converged;
// the bytes are those it writes on that connection.
//
// runLateJoin: the time for a late node to receive all metadata of an N=32 cluster
// holding 64 KiB per node: from its Join until it holds every map. There is
// no memberlist baseline: NodeMeta is capped at 512 bytes.
func runPushPull(b *bench) error {
	n, trials := 128, 3
	if b.quick {
		n, trials = 8, 1
	}
	ours, err := pushPullOurs(n, 1<<10, trials)
	if err != nil {
		return err
	}
	b.log("  %-10s %s", "ours", fmtVals(ours))
	base, err := pushPullBase(n, 480, trials)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	b.log("  %-10s %s", "memberlist", fmtVals(base))
	b.add(fmt.Sprintf("push/pull bytes sent per node, 1 KiB metadata per node (memberlist: 480 B NodeMeta), N=%d", n), "B", cost, ours, base)
	return nil
}

// runLateJoin is the second half of figure 8: a late node's metadata.
func runLateJoin(b *bench) error {
	n, size := 32, 64<<10
	if b.quick {
		n, size = 4, 8<<10
	}
	var times []float64
	for r := 0; r < b.rounds; r++ {
		v, err := lateJoinOurs(n, size, 3)
		if err != nil {
			return err
		}
		b.log("  round %d %-10s %s", r+1, "ours", fmtVals(v))
		times = append(times, v...)
	}
	name := fmt.Sprintf("late node receives all metadata, %s per node, N=%d", sizeName(size), n)
	b.add(name+", p50", "s", cost, []float64{percentile(times, 50)}, nil)
	b.add(name+", max", "s", cost, []float64{percentile(times, 100)}, nil)
	return nil
}

// pushPullMsg is memberlist's message type byte opening a push/pull
// stream (unencrypted, no label), which is how the counter tells it from
// the engine's own streams.
const pushPullMsg = 6

// countConn counts the bytes written on a connection whose first write is
// a memberlist push/pull.
type countConn struct {
	net.Conn
	first    sync.Once
	pushPull bool
	sent     atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	c.first.Do(func() { c.pushPull = len(p) > 0 && p[0] == pushPullMsg })
	n, err := c.Conn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}

// measurePushPulls makes nodes[1] push/pull with trials other members (by
// joining them again) and returns the bytes it sent in each push/pull
// connection (the engine may add a push/pull of its own after a join;
// each counts as one sample).
func measurePushPulls(nodes []node, tr *ctlTransport, trials int) ([]float64, error) {
	var mu sync.Mutex
	var conns []*countConn
	wrap := func(c net.Conn) net.Conn {
		cc := &countConn{Conn: c}
		mu.Lock()
		conns = append(conns, cc)
		mu.Unlock()
		return cc
	}
	tr.wrapConn.Store(&wrap)
	defer tr.wrapConn.Store(nil)
	for t := range trials {
		if err := nodes[1].Join(nodes[2+t%(len(nodes)-2)].Addr()); err != nil {
			return nil, err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var out []float64
	for _, c := range conns {
		if c.pushPull {
			out = append(out, float64(c.sent.Load()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no push/pull connection seen")
	}
	return out, nil
}

func pushPullOurs(n, size, trials int) ([]float64, error) {
	nodes, err := startNodes(oursSide, n, lan)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	for i, x := range nodes {
		if err := x.(*ourNode).c.SetMetadata("blob", metaValue(i, size)); err != nil {
			return nil, err
		}
	}
	if err := joinAll(nodes); err != nil {
		return nil, err
	}
	// Converged: every node alive everywhere and the measuring node holds
	// every map, so the push/pull is the steady-state one.
	me := nodes[1].(*ourNode).c
	err = waitHolding(nodes, n, "every map on the measuring node", func() (held int) {
		for _, x := range me.Nodes() {
			if v, _ := x.Metadata["blob"].(string); len(v) == size {
				held++
			}
		}
		return held
	})
	if err != nil {
		return nil, err
	}
	return measurePushPulls(nodes, nodes[1].(*ourNode).tr, trials)
}

func pushPullBase(n, size, trials int) ([]float64, error) {
	nodes, err := startNodes(baseSide, n, lan)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	for i, x := range nodes {
		bn := x.(*baseNode)
		v := []byte(metaValue(i, size))
		bn.d.meta.Store(&v)
		if err := bn.ml.UpdateNode(0); err != nil {
			return nil, err
		}
	}
	if err := joinAll(nodes); err != nil {
		return nil, err
	}
	err = waitHolding(nodes, n, "every NodeMeta on the measuring node", func() (held int) {
		for _, m := range nodes[1].(*baseNode).ml.Members() {
			if len(m.Meta) == size {
				held++
			}
		}
		return held
	})
	if err != nil {
		return nil, err
	}
	return measurePushPulls(nodes, nodes[1].(*baseNode).tr, trials)
}

// lateJoinOurs builds a cluster of n nodes holding size bytes of metadata
// each, then times trials late nodes, one after the other, from Join until
// they hold every map.
func lateJoinOurs(n, size, trials int) ([]float64, error) {
	nodes, err := startNodes(oursSide, n, lan)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	for i, x := range nodes {
		if err := x.(*ourNode).c.SetMetadata("blob", metaValue(i, size)); err != nil {
			return nil, err
		}
	}
	if err := joinAll(nodes); err != nil {
		return nil, err
	}
	holdsAll := func(x *ourNode, want int) bool {
		held := 0
		for _, m := range x.c.Nodes() {
			if v, _ := m.Metadata["blob"].(string); len(v) == size {
				held++
			}
		}
		return held == want
	}
	err = waitUntil(120*time.Second, 20*time.Millisecond, "every map on the first node", func() bool {
		return allAlive(nodes, n) && holdsAll(nodes[0].(*ourNode), n)
	})
	if err != nil {
		return nil, err
	}
	var out []float64
	for t := range trials {
		late, err := startOurs(fmt.Sprintf("late-%d-%d", t, time.Now().UnixNano()), lan, nil)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		err = late.Join(nodes[t%n].Addr())
		if err == nil {
			err = waitUntil(60*time.Second, 2*time.Millisecond, "every map on the late node", func() bool {
				// The late node's own map is empty: it holds the n others.
				return holdsAll(late, n)
			})
		}
		d := time.Since(t0)
		late.Stop()
		if err != nil {
			return nil, err
		}
		out = append(out, d.Seconds())
	}
	return out, nil
}

// waitHolding waits until every node sees all n alive and held reports
// that the measuring node holds all n nodes' metadata.
func waitHolding(nodes []node, n int, what string, held func() int) error {
	return waitUntil(120*time.Second, 20*time.Millisecond, what, func() bool {
		return allAlive(nodes, n) && held() == n
	})
}
