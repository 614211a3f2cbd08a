package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// metaOf returns what c knows of id's metadata.
func metaOf(c *Cluster, id string) map[string]any {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n.Metadata
		}
	}
	return nil
}

func TestMetadataPropagation(t *testing.T) {
	pre, err := New(testConfig("n0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pre.SetMetadata("role", "db"); err != nil {
		t.Fatal(err)
	}
	if err := pre.SetMetadata("weight", 3); err != nil {
		t.Fatal(err)
	}
	if err := pre.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pre.stop(false) })
	rest := startCluster(t, 2, func(i int, cfg *Config) { cfg.NodeID = "m" + cfg.NodeID })
	if _, err := pre.Join(context.Background(), []string{rest[0].LocalNode().Addr}); err != nil {
		t.Fatal(err)
	}
	for _, c := range rest {
		waitFor(t, 5*time.Second, "pre-start metadata", func() bool {
			m := metaOf(c, "n0")
			return m["role"] == "db" && m["weight"] == int64(3)
		})
	}
	big := strings.Repeat("z", 8*1024)
	if err := pre.SetMetadata("blob", big); err != nil {
		t.Fatal(err)
	}
	if err := pre.SetMetadata("small", true); err != nil {
		t.Fatal(err)
	}
	for _, c := range rest {
		waitFor(t, 10*time.Second, "8 KiB metadata", func() bool {
			m := metaOf(c, "n0")
			return m["blob"] == big && m["small"] == true
		})
	}
	if err := pre.DeleteMetadata("role"); err != nil {
		t.Fatal(err)
	}
	for _, c := range rest {
		waitFor(t, 10*time.Second, "delete", func() bool {
			_, ok := metaOf(c, "n0")["role"]
			return !ok
		})
	}
	if v, ok := pre.GetMetadata("weight"); !ok || v != int64(3) {
		t.Fatalf("GetMetadata = %v %v", v, ok)
	}
}

func TestMetadataValidation(t *testing.T) {
	c, err := New(testConfig("mv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetMetadata("", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty key: %v", err)
	}
	err = c.SetMetadata("k", []int{1})
	if !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), "metadata value must be str, int, float or bool, got []int") {
		t.Fatalf("bad type: %v", err)
	}
	if err := c.SetMetadata("k", strings.Repeat("x", MaxMetadataSize)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	m := c.AllMetadata()
	m["x"] = 1
	if _, ok := c.GetMetadata("x"); ok {
		t.Fatal("AllMetadata is not a copy")
	}
	c.Stop()
}

// A node whose map is empty says so in its header, and peers store the
// empty map without pulling it: a join storm of nodes that never set
// metadata sends no pull at all.
func TestEmptyMetadataNotPulled(t *testing.T) {
	h, err := decodeHeader((&nodeHeader{instance: 7, metaVersion: 9, emptyMeta: true}).encode(nil))
	if err != nil || !h.emptyMeta || h.metaVersion != 9 {
		t.Fatalf("header round trip: %+v, %v", h, err)
	}
	nodes := startCluster(t, 4, nil)
	holdsAll := func() bool {
		for _, c := range nodes {
			for _, o := range nodes {
				if o == c {
					continue
				}
				v, _ := o.meta.localVersion()
				c.meta.mu.RLock()
				e := c.meta.remote[o.id]
				c.meta.mu.RUnlock()
				if e == nil || e.version != v || len(e.values) != 0 {
					return false
				}
			}
		}
		return true
	}
	waitFor(t, 10*time.Second, "every node to hold every peer's empty map", holdsAll)
	// Forget n1's map on n0 as if it had never arrived, with a pull due:
	// the scan stores the empty map from the header instead of pulling.
	a, b := nodes[0], nodes[1]
	a.meta.mu.Lock()
	delete(a.meta.remote, b.id)
	a.meta.lastPull[b.id] = time.Now().Add(-time.Hour)
	a.meta.mu.Unlock()
	a.pullStaleMetadata()
	waitFor(t, 10*time.Second, "the empty map stored again", holdsAll)
	for _, c := range nodes {
		if n := c.stats.metaPulls.Load(); n != 0 {
			t.Errorf("%s pulled metadata %d times; empty maps need no pull", c.id, n)
		}
	}
	// A map emptied again replaces the stale non-empty one everywhere.
	if err := nodes[0].SetMetadata("role", "db"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the set key", func() bool { return metaOf(nodes[1], nodes[0].id)["role"] == "db" })
	if err := nodes[0].DeleteMetadata("role"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the emptied map", holdsAll)
}
