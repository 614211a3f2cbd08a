package engine

import (
	"context"
	"encoding/binary"
	"time"
)

// Anti-entropy by digest (path 3 of metadata.go).
//
// memberlist refuses a push/pull whose user state exceeds 20 MiB, and a
// join is a push/pull: carrying every known map there stopped nodes from
// joining a cluster with more than 20 MiB of metadata in all, and moved
// the whole cluster's metadata every push/pull however little changed. So
// the push/pull state is only a digest, (owner, version) per entry held,
// about 40 bytes per node, and each side then fetches over the reliable
// streams just the entries it lacks or holds older:
//
//  1. mergeDigest records, per owner, the newest version a peer's digest
//     announces above what we hold ("wants", with that peer as source).
//  2. fetchWanted asks each source for its wanted entries with one
//     msgMetaFetch listing (owner, version held), at most fetchMaxOwners.
//  3. The source answers with one msgMetaChunk: the asked entries it holds
//     newer, packed up to fetchChunkBytes (always at least one), and how
//     many of the asked owners it went through.
//  4. The chunk's arrival stores the entries, drops the wants the source
//     went through, and asks for the next chunk.
//
// One fetch per source is outstanding at a time, so a source never has
// more than one chunk (at most about MaxMetadataSize) in flight to one
// node: a pull of a whole cluster's metadata, whatever its size, moves in
// bounded steps that the reliable window and TCP pace. A fetch left
// unanswered for fetchTimeout (the source left, restarted, or never
// answers) drops that source's wants; the next digest or the owner's
// header (path 2) brings the entries again. While an owner is wanted,
// path 2 does not pull it as well.
//
// The digest takes about 46 bytes a node with 36-byte ids and is capped at
// digestMaxBytes, about 45,000 nodes: past that each push/pull carries a
// random subset (map order), which keeps anti-entropy working, only
// slower. memberlist's own node list in the same push/pull (about 60 bytes
// a node with short ids, 90 with 36-byte ones) reaches its 20 MiB limit
// near 200,000 nodes, so the digest is never what stops a push/pull.

// Message types of the digest protocol (internal, below MinUserMessageType).
const (
	msgMetaDigest = 6 // push/pull state: owner, version, flags per entry held
	msgMetaFetch  = 7 // fetch id, count, then owner and version held per entry asked
	msgMetaChunk  = 8 // fetch id, owners gone through, count, then entries
)

const (
	digestMaxBytes  = 2 << 20          // largest digest payload
	fetchChunkBytes = MaxMetadataSize  // largest chunk payload, beyond its first entry
	fetchMaxOwners  = 4096             // owners asked per fetch
	fetchTimeout    = 15 * time.Second // an unanswered fetch drops its source's wants

	// digestEmpty flags an entry whose map is empty: the receiver stores it
	// without fetching, as it does from a node header (hdrEmptyMeta), so a
	// join storm of nodes that never set metadata fetches nothing.
	digestEmpty = 1 << 0
)

// metaWant is an entry a peer's digest announced newer than ours.
type metaWant struct {
	version uint64
	from    string    // the peer holding it
	since   time.Time // when it was first wanted from this peer
}

// metaFetch is the outstanding fetch to one source.
type metaFetch struct {
	id     uint64
	sent   time.Time
	owners []string // as asked, in order
}

// encodeDigest is our push/pull state: (owner, version) of every entry we
// hold, ours first, up to digestMaxBytes.
func (c *Cluster) encodeDigest() []byte {
	s := &c.meta
	s.mu.RLock()
	n := min(len(s.remote)+1, digestMaxBytes/8)
	body := make([]byte, 0, 16+n*24)
	body = binary.AppendUvarint(body, 0) // count, patched below
	body = appendDigestEntry(body, c.id, &s.local)
	count := uint64(1)
	for owner, e := range s.remote {
		if len(body)+len(owner)+2*binary.MaxVarintLen64+1 > digestMaxBytes {
			break
		}
		body = appendDigestEntry(body, owner, e)
		count++
	}
	s.mu.RUnlock()
	head := binary.AppendUvarint(nil, count)
	body = append(head, body[1:]...)
	return encodeEnvelope(&envelope{msgType: msgMetaDigest, sender: c.id, payload: body}, c.tokenKey)
}

// appendDigestEntry appends owner, version and flags of one entry.
func appendDigestEntry(dst []byte, owner string, e *metaEntry) []byte {
	dst = appendString(dst, owner)
	dst = binary.AppendUvarint(dst, e.version)
	flags := byte(0)
	if len(e.values) == 0 {
		flags |= digestEmpty
	}
	return append(dst, flags)
}

// mergeRemoteState applies a peer's push/pull state: a digest, or (from a
// node of an earlier release) every entry it knows.
func (c *Cluster) mergeRemoteState(buf []byte) {
	if len(buf) == 0 {
		return // a peer with no state to share
	}
	e, err := decodeEnvelope(buf, c.tokenKey)
	if err != nil {
		c.stats.decodeErrors.Add(1)
		return
	}
	switch e.msgType {
	case msgMetaDigest:
		c.mergeDigest(e)
	case msgState:
		c.mergeState(e)
	default:
		c.stats.decodeErrors.Add(1)
	}
}

// mergeDigest records what the sender holds newer than we do, and fetches
// it at once when the sender is already in the peer table (on a join it is
// not yet: Join fetches once the join is applied, and the peer loop
// retries). It runs inside memberlist's push/pull, so it never waits.
func (c *Cluster) mergeDigest(e *envelope) {
	if e.sender == c.id || e.sender == "" {
		return
	}
	r := reader{b: e.payload}
	n := r.uvarint()
	now := time.Now()
	s := &c.meta
	added := false
	var empty []string
	var emptyVersions []uint64
	s.mu.Lock()
	for i := uint64(0); i < n && r.err == nil; i++ {
		owner := r.string()
		version := r.uvarint()
		flags := r.bytes(1)
		if r.err != nil || owner == c.id || owner == "" {
			continue
		}
		if old := s.remote[owner]; old != nil && old.version >= version {
			continue
		}
		if flags[0]&digestEmpty != 0 {
			empty, emptyVersions = append(empty, owner), append(emptyVersions, version)
			continue
		}
		if w, ok := s.want[owner]; ok && w.version >= version {
			continue
		}
		s.want[owner] = metaWant{version: version, from: e.sender, since: now}
		added = true
	}
	s.mu.Unlock()
	for i, owner := range empty {
		c.storeEntry(owner, emptyEntry(emptyVersions[i]))
	}
	if r.err != nil {
		c.stats.decodeErrors.Add(1)
	}
	if added && c.peers.get(e.sender) != nil {
		c.fetchWanted()
	}
}

// fetchWanted sends a fetch to every source of wanted entries that has
// none outstanding. It never waits: it runs from the peer loop, from a
// push/pull and on the receive path.
func (c *Cluster) fetchWanted() {
	now := time.Now()
	type fetch struct {
		to   string
		body []byte
	}
	var out []fetch
	s := &c.meta
	s.mu.Lock()
	if len(s.want) == 0 {
		s.mu.Unlock()
		return
	}
	asks := map[string][]string{}
	for owner, w := range s.want {
		if old := s.remote[owner]; old != nil && old.version >= w.version {
			delete(s.want, owner)
			continue
		}
		f, busy := s.fetching[w.from]
		if busy && now.Sub(f.sent) < fetchTimeout {
			continue
		}
		p := c.peers.get(w.from)
		if p == nil || p.state != StateAlive {
			if now.Sub(w.since) >= fetchTimeout {
				delete(s.want, owner)
			}
			continue
		}
		if busy {
			// Unanswered: give up on this source; a later digest or the
			// owner's header brings the entry again.
			delete(s.want, owner)
			continue
		}
		if len(asks[w.from]) < fetchMaxOwners {
			asks[w.from] = append(asks[w.from], owner)
		}
	}
	for from, f := range s.fetching {
		if now.Sub(f.sent) >= fetchTimeout {
			delete(s.fetching, from)
		}
	}
	for from, owners := range asks {
		s.fetchSeq++
		body := binary.AppendUvarint(nil, s.fetchSeq)
		body = binary.AppendUvarint(body, uint64(len(owners)))
		for _, owner := range owners {
			var have uint64
			if e := s.remote[owner]; e != nil {
				have = e.version
			}
			body = appendString(body, owner)
			body = binary.AppendUvarint(body, have)
		}
		s.fetching[from] = metaFetch{id: s.fetchSeq, sent: now, owners: owners}
		out = append(out, fetch{to: from, body: body})
	}
	s.mu.Unlock()
	for _, f := range out {
		if !c.sendInternal(f.to, msgMetaFetch, f.body) {
			s.mu.Lock()
			delete(s.fetching, f.to) // the window is full: the peer loop asks again
			s.mu.Unlock()
		}
	}
}

// sendInternal queues an engine message on the reliable stream to id
// without waiting for window space; false when it was not queued.
func (c *Cluster) sendInternal(id string, msgType int, body []byte) bool {
	_, err := c.senders.enqueue(context.Background(), c, id, outMsg{msgType: msgType, payload: body, internal: true}, time.Time{}, false)
	return err == nil
}

// answerFetch sends the asker one chunk of the entries it asked for.
func (c *Cluster) answerFetch(e *envelope) {
	body, ok := c.buildChunk(e.payload)
	if !ok {
		c.stats.decodeErrors.Add(1)
		return
	}
	c.sendInternal(e.sender, msgMetaChunk, body)
}

// buildChunk answers a fetch request: the asked entries we hold newer
// than the asker, in the order asked, packed up to fetchChunkBytes (at
// least one), and how many of the asked owners it went through.
func (c *Cluster) buildChunk(req []byte) ([]byte, bool) {
	r := reader{b: req}
	id := r.uvarint()
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return nil, false
	}
	var entries []byte
	count, through := uint64(0), uint64(0)
	s := &c.meta
	s.mu.RLock()
	for ; through < n; through++ {
		owner := r.string()
		have := r.uvarint()
		if r.err != nil {
			break
		}
		held := s.remote[owner]
		if owner == c.id {
			held = &s.local
		}
		if held == nil || held.version <= have {
			continue
		}
		if count > 0 && len(entries)+len(owner)+len(held.enc)+2*binary.MaxVarintLen64 > fetchChunkBytes {
			break
		}
		entries = appendEntry(entries, owner, held)
		count++
	}
	s.mu.RUnlock()
	if r.err != nil {
		return nil, false
	}
	body := binary.AppendUvarint(make([]byte, 0, len(entries)+3*binary.MaxVarintLen64), id)
	body = binary.AppendUvarint(body, through)
	body = binary.AppendUvarint(body, count)
	return append(body, entries...), true
}

// receiveChunk stores a chunk's entries, settles the fetch it answers and
// asks for the next one.
func (c *Cluster) receiveChunk(e *envelope) {
	r := reader{b: e.payload}
	id := r.uvarint()
	through := r.uvarint()
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		owner, entry, err := readEntry(&r)
		if err != nil {
			c.stats.decodeErrors.Add(1)
			break
		}
		c.storeEntry(owner, entry)
	}
	if r.err != nil {
		c.stats.decodeErrors.Add(1)
	}
	s := &c.meta
	s.mu.Lock()
	if f, ok := s.fetching[e.sender]; ok && f.id == id {
		delete(s.fetching, e.sender)
		// The source went through these: what it did not send, it no
		// longer holds newer than we do.
		for _, owner := range f.owners[:min(through, uint64(len(f.owners)))] {
			if w, ok := s.want[owner]; ok && w.from == e.sender {
				delete(s.want, owner)
			}
		}
	}
	s.mu.Unlock()
	c.fetchWanted()
}

// wanted reports whether owner's entry is being fetched by digest.
func (s *metaStore) wanted(owner string) bool {
	_, ok := s.want[owner]
	return ok
}
