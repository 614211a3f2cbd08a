package engine

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// TestPeerTableBytesPerPeer checks what the peer table holds per peer once
// a cluster has joined and its members went through a suspicion and back:
// every node holds one record per peer, so this is the engine's largest
// share of an idle node's heap. The peers carry the same tags, as a
// cluster's nodes usually do, and distinct addresses.
func TestPeerTableBytesPerPeer(t *testing.T) {
	c, l, ev := eventTable(t)
	const n = 20000
	nodes := make([]*memberlist.Node, n)
	for i := range nodes {
		h := &nodeHeader{instance: uint64(i + 1), metaVersion: uint64(i + 1), tags: []string{"web", "eu-west"}}
		nodes[i] = fakeEventNode(l, fmt.Sprintf("node-%05d", i), h)
		nodes[i].Port = uint16(10000 + i)
		setEventState(l, nodes[i], memberlist.StateAlive)
	}
	before := liveHeap()
	for _, nd := range nodes {
		ev.NotifyJoin(nd)
	}
	for _, nd := range nodes {
		c.peers.applyState(nd.Name, memberlist.StateSuspect)
		ev.NotifyUpdate(nd) // refuted: alive again, same address and header
	}
	c.peers.close() // drop the queued changes: only the table is measured
	after := liveHeap()
	runtime.KeepAlive(nodes)
	per := float64(int64(after)-int64(before)) / n
	t.Logf("peer table: %.0f bytes per peer", per)
	// Record (160 bytes), address (8 + 16), the map's slot and the tags
	// shared: about 235. With the header and its tags apart it was 348.
	if per > 260 {
		t.Errorf("peer table holds %.0f bytes per peer, want at most 260", per)
	}

	p := c.peers.get("node-00001")
	if p == nil || p.header == nil || p.header.instance != 2 || len(p.header.tags) != 2 {
		t.Fatalf("node-00001's record is %+v", p)
	}
	q := c.peers.get("node-00002")
	if unsafe.SliceData(p.header.tags) != unsafe.SliceData(q.header.tags) {
		t.Error("two peers with equal tags hold separate copies of them")
	}
}

// TestPeerRecordCloneOwnsHeader checks that a record replaced by a state
// change does not stay reachable through its successor's header, and that
// an update with an unchanged address shares the address instead of
// copying it.
func TestPeerRecordCloneOwnsHeader(t *testing.T) {
	c, l, ev := eventTable(t)
	a := fakeEventNode(l, "a", &nodeHeader{instance: 1, metaVersion: 1})
	setEventState(l, a, memberlist.StateAlive)
	ev.NotifyJoin(a)
	old := c.peers.get("a")
	c.peers.applyState("a", memberlist.StateSuspect)
	p := c.peers.get("a")
	if p == old || p.state != StateSuspect {
		t.Fatalf("suspicion did not replace the record: %+v", p)
	}
	if p.header != &p.hdr || p.header.instance != 1 {
		t.Errorf("the new record's header points outside it (%p, record at %p)", p.header, p)
	}
	if old.state != StateAlive || old.header.metaVersion != 1 {
		t.Errorf("the published record was modified: %+v", old)
	}
	ev.NotifyUpdate(a)
	q := c.peers.get("a")
	if q.addr != old.addr || unsafe.StringData(q.addr) != unsafe.StringData(old.addr) || &q.ip[0] != &old.ip[0] {
		t.Error("an update with the same address copied it")
	}
	a.Port++
	ev.NotifyUpdate(a)
	if r := c.peers.get("a"); r.addr == old.addr || r.port != a.Port {
		t.Errorf("a changed port is not recorded: %s", r.addr)
	}
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
