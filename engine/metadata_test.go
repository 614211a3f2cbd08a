package engine

import (
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
	t.Cleanup(func() { _ = pre.stop(false) })
	rest := startCluster(t, 2, func(i int, cfg *Config) { cfg.NodeID = "m" + cfg.NodeID })
	if _, err := pre.Join([]string{rest[0].LocalNode().Addr}); err != nil {
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
	_ = c.Stop()
}
