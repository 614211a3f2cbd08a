package engine

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestEmptyMetadataEntriesShareOneBody checks that the entry a node holds
// for each peer with an empty metadata map, whichever path brought it (a
// received update, a digest, the header's empty flag), carries no map or
// encoding of its own, and what such entries cost per peer.
func TestEmptyMetadataEntriesShareOneBody(t *testing.T) {
	c, err := New(testConfig("self"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	// A received update of an empty map.
	r := reader{b: appendEntry(nil, "u", &metaEntry{version: 3, metaBody: &metaBody{enc: emptyMapEnc}})}
	owner, e, err := readEntry(&r)
	if err != nil || owner != "u" {
		t.Fatal(owner, err)
	}
	if !c.storeEntry(owner, e) {
		t.Fatal("the update was not stored")
	}
	// A digest entry flagged empty.
	d := appendDigestEntry(binary.AppendUvarint(nil, 1), "d", emptyEntry(4))
	c.mergeDigest(&envelope{sender: "peer", payload: d})
	for _, id := range []string{"u", "d"} {
		c.meta.mu.RLock()
		e := c.meta.remote[id]
		c.meta.mu.RUnlock()
		if e == nil || e.metaBody != emptyBody || len(e.values) != 0 {
			t.Fatalf("%s's entry is %+v, want one sharing the empty body", id, e)
		}
		if got := c.meta.valuesOf(id); got == nil || len(got) != 0 {
			t.Errorf("%s's map reads as %v, want an empty map", id, got)
		}
	}

	// Many peers announcing an empty map in their headers.
	const n = 20000
	owners := make([]string, n)
	for i := range owners {
		owners[i] = fmt.Sprintf("owner-%05d", i)
	}
	before := liveHeap()
	for i, o := range owners {
		c.storeEntry(o, emptyEntry(uint64(i+1)))
	}
	per := float64(int64(liveHeap())-int64(before)) / n
	t.Logf("empty metadata entries: %.0f bytes per peer", per)
	// Entry (16 bytes) and the map's slot: about 43; with a 48-byte entry
	// of its own it was 76.
	if per > 64 {
		t.Errorf("an empty metadata entry costs %.0f bytes per peer, want at most 64", per)
	}
}
