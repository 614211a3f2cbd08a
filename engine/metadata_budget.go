package engine

import "time"

// Cluster-wide metadata volume.
//
// Every node holds every node's metadata map, both encoded (as received,
// to serve fetches) and decoded (to read), so a node's memory for metadata
// is about twice the encoded total of the whole cluster: at most
// nodes × MaxMetadataSize × 2. Nothing refuses a peer's map, since
// membership must never depend on it; past MetadataClusterBudget a node
// logs a warning instead, at most once per budgetWarnEvery.

// MetadataClusterBudget is the encoded metadata of the whole cluster a node
// holds before it warns: 64 MiB, about 128 MiB of memory on every node (for
// example 64 nodes at the 1 MiB maximum, or 1,024 nodes at 64 KiB).
const MetadataClusterBudget = 64 << 20

const budgetWarnEvery = 10 * time.Minute

// overBudget reports whether the volume held is past the budget and no
// warning was logged lately; it marks the warning as logged. s.mu is held.
func (s *metaStore) overBudget() bool {
	if s.total <= MetadataClusterBudget {
		return false
	}
	now := time.Now()
	if !s.warnedAt.IsZero() && now.Sub(s.warnedAt) < budgetWarnEvery {
		return false
	}
	s.warnedAt = now
	return true
}

// warnMetaBudget logs that the cluster's metadata is past the budget.
func (c *Cluster) warnMetaBudget() {
	c.meta.mu.RLock()
	total, nodes := c.meta.total, len(c.meta.remote)+1
	c.meta.mu.RUnlock()
	c.log.Warn("cluster metadata past budget: every node holds every node's metadata in memory (about twice the encoded size); keep per-node metadata smaller",
		"held_bytes", total, "budget_bytes", MetadataClusterBudget, "nodes", nodes)
}

// MetadataHeld is the encoded size of all metadata this node holds, its
// own map included: the cluster-wide volume every node keeps in memory
// (about twice this, encoded and decoded).
func (c *Cluster) MetadataHeld() int {
	c.meta.mu.RLock()
	defer c.meta.mu.RUnlock()
	return c.meta.total
}
