package engine

import (
	"slices"
	"testing"
	"time"
)

func peerIDs(ps []*peerInfo) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.id
	}
	return out
}

// The cached alive list follows the table: a node that stops leaves it, one
// that starts joins it, and Candidates' shuffling never reorders it.
func TestAliveListFollowsTheTable(t *testing.T) {
	nodes := startCluster(t, 4, nil)
	a := nodes[0]
	if got := peerIDs(a.alivePeers(nil)); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("alive peers %v", got)
	}
	for range 20 {
		if _, err := a.Candidates(3); err != nil {
			t.Fatal(err)
		}
	}
	if got := peerIDs(a.alivePeers(nil)); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("alive peers after Candidates %v", got)
	}
	if got := peerIDs(a.alivePeers(func(p *peerInfo) bool { return p.id != "n2" })); !slices.Equal(got, []string{"n1", "n3"}) {
		t.Fatalf("filtered alive peers %v", got)
	}
	nodes[2].stop(true)
	waitFor(t, 10*time.Second, "n2 gone from the alive list", func() bool {
		return slices.Equal(peerIDs(a.alivePeers(nil)), []string{"n1", "n3"})
	})
	late := startNode(t, testConfig("n0a"))
	if _, err := late.Join(t.Context(), []string{a.LocalNode().Addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the new node in the alive list", func() bool {
		return slices.Equal(peerIDs(a.alivePeers(nil)), []string{"n0a", "n1", "n3"})
	})
}
