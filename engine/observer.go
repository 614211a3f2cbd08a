package engine

// Observers.
//
// An observer is a member that only watches: `scriptling-gossip members`
// joins as one to print the membership, then leaves. It is a full
// memberlist member (it must be, to receive the node table and the
// metadata), so peers list it; what sets it apart is the hdrObserver flag
// of its node header (Config.Observer). Every peer reads the flag:
//
//   - Node.Observer is true for it (the "observer" key of node dicts), so
//     scripts can leave it out of what they count;
//   - leader elections (engine/election) never make it eligible, whatever their criteria: it
//     is in no electorate, so the votes it may answer are never counted
//     and it changes no majority;
//   - node groups (engine/groups) never make it a member.
//
// Peers of an engine older than the flag ignore it and see an ordinary
// node with no tags and no metadata.

// MetadataCurrent reports whether this node holds, for every alive peer,
// the metadata version that peer's header announces (and has read every
// alive peer's header). An observer polls it to know when its view of the
// cluster's metadata is complete.
func (c *Cluster) MetadataCurrent() bool {
	if !c.running() {
		return false
	}
	for _, p := range c.alivePeers(nil) {
		if p.header == nil || c.meta.behind(p) {
			return false
		}
	}
	return true
}
