package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/host"
)

// TestReferenceExamplesVerbatim runs the reference's examples unchanged
// (tests/reference/ holds them as printed, fixed ports included). Where an
// example joins a peer it never starts, a Go engine node plays that peer.
func TestReferenceExamplesVerbatim(t *testing.T) {
	t.Run("basic cluster", func(t *testing.T) {
		peer := startPeer(t, "127.0.0.1:8001")
		defer peer.Stop()
		r := runScript(t, filepath.Join("reference", "basic_cluster.py"))
		if r.Err != nil {
			t.Fatalf("%v\n%s", r.Err, r.Stdout)
		}
	})
	t.Run("three-node cluster with tags", func(t *testing.T) {
		r := runScript(t, filepath.Join("reference", "three_node_tags.py"))
		host.Shutdown() // the example leaves its nodes running
		if r.Err != nil {
			t.Fatalf("%v\n%s", r.Err, r.Stdout)
		}
	})
	t.Run("metadata and state monitoring", func(t *testing.T) {
		peer := startPeer(t, "127.0.0.1:8001")
		defer peer.Stop()
		r := runScript(t, filepath.Join("reference", "metadata_state.py"))
		host.Shutdown()
		if r.Err != nil {
			t.Fatalf("%v\n%s", r.Err, r.Stdout)
		}
		if !strings.Contains(r.Stdout, "{role: leader, version: 2}") && !strings.Contains(r.Stdout, "{version: 2, role: leader}") {
			t.Errorf("own metadata not listed:\n%s", r.Stdout)
		}
		if !strings.Contains(r.Stdout, peer.NodeID()+" -> alive") {
			t.Errorf("no alive event for the peer:\n%s", r.Stdout)
		}
	})
	t.Run("encrypted cluster refuses the 29-byte key", func(t *testing.T) {
		r := runScript(t, filepath.Join("reference", "encrypted_cluster.py"))
		if r.Err == nil || !strings.Contains(r.Err.Error(), "create(): encryption_key must be 16, 24 or 32 bytes, got 29") {
			t.Fatalf("want a clear key-length error, got %v", r.Err)
		}
	})
}

func startPeer(t *testing.T, addr string) *engine.Cluster {
	t.Helper()
	c, err := engine.New(engine.Config{BindAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}
