package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/codec"
)

// Metadata propagation.
//
// Each node owns its whole metadata map, versioned by a counter seeded from
// the clock at New (so a restarted node's versions are newer than its
// previous run's). The unit of propagation is (owner, version, full map)
// and every node keeps the highest version per owner, so deletes propagate
// like any change. Three paths carry it, from fastest to slowest:
//
//  1. A change small enough for one gossip packet is queued as a named
//     broadcast (newer replaces older); receivers re-broadcast each version
//     the first time they see it, because memberlist transmits a broadcast
//     only a few times and would otherwise miss most of a large cluster.
//  2. The version is also in the node header, which memberlist gossips with
//     every alive message; a node that sees a newer version than it holds
//     asks the owner for the map over a reliable message. This carries maps
//     too large for a broadcast.
//  3. Push/pull state exchange carries a digest of the entries a node
//     holds (owner, version), and each side fetches over the reliable
//     streams, in bounded chunks, the entries it lacks or holds older: the
//     backstop, and how a joining node gets the cluster's metadata
//     (metadata_digest.go).
//
// Every node holds every node's map: the cluster-wide volume is bounded by
// nodes × MaxMetadataSize, and a node warns when what it holds passes
// MetadataClusterBudget (metadata_budget.go).

const (
	// broadcastLimit is the largest envelope sent as a broadcast: a UDP
	// gossip packet holds about 1,400 bytes, less the encryption overhead.
	broadcastLimit = 1300
	pullInterval   = 500 * time.Millisecond // minimum time between pulls from one owner
)

// metaEntry is one owner's metadata at one version. Every node holds one
// per peer; the map and its encoding are held apart so that the entries of
// peers with an empty map (most peers of most clusters) share one body
// (emptyBody): such an entry is 16 bytes instead of 48.
type metaEntry struct {
	version uint64
	*metaBody
}

// metaBody is the content of a metaEntry; it is never modified once held.
type metaBody struct {
	values map[string]any // nil when empty
	enc    []byte         // codec encoding of values
}

// emptyBody is the body of every entry whose map is empty.
var emptyBody = &metaBody{enc: emptyMapEnc}

// emptyEntry is owner's entry at version when its map is empty.
func emptyEntry(version uint64) *metaEntry {
	return &metaEntry{version: version, metaBody: emptyBody}
}

// metaStore holds the local map and the latest known remote maps.
type metaStore struct {
	mu       sync.RWMutex
	local    metaEntry
	remote   map[string]*metaEntry
	lastPull map[string]time.Time

	// Digest anti-entropy (metadata_digest.go).
	want     map[string]metaWant  // owner -> newer entry a peer holds
	fetching map[string]metaFetch // source -> outstanding fetch
	fetchSeq uint64

	// Cluster-wide volume (metadata_budget.go).
	total    int       // encoded bytes held, ours included
	warnedAt time.Time // last budget warning
}

// emptyMapEnc is the codec encoding of an empty map.
var emptyMapEnc, _ = codec.EncodeValue(map[string]any{})

func (s *metaStore) init() {
	s.local = metaEntry{version: uint64(time.Now().UnixNano()), metaBody: &metaBody{values: map[string]any{}}}
	s.local.enc, _ = codec.EncodeValue(s.local.values)
	s.remote = make(map[string]*metaEntry)
	s.lastPull = make(map[string]time.Time)
	s.want = make(map[string]metaWant)
	s.fetching = make(map[string]metaFetch)
	s.total = len(s.local.enc)
}

func (s *metaStore) localVersion() (version uint64, empty bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.local.version, len(s.local.values) == 0
}

// valuesOf returns a copy of owner's known map (never nil).
func (s *metaStore) valuesOf(owner string) map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.remote[owner]; e != nil {
		return cloneValues(e.values)
	}
	return map[string]any{}
}

// cloneValues copies a metadata map held by the store; the copy is never
// nil, even where the store holds an empty map as nil.
func cloneValues(m map[string]any) map[string]any {
	if len(m) == 0 {
		return map[string]any{}
	}
	return maps.Clone(m)
}

// forget drops the entry of a node memberlist no longer knows.
func (s *metaStore) forget(owner string) {
	s.mu.Lock()
	if e := s.remote[owner]; e != nil {
		s.total -= len(e.enc)
	}
	delete(s.remote, owner)
	delete(s.lastPull, owner)
	delete(s.want, owner)
	delete(s.fetching, owner)
	for o, w := range s.want {
		if w.from == owner {
			delete(s.want, o)
		}
	}
	s.mu.Unlock()
}

// normalizeMetaValue converts value to the metadata value model.
func normalizeMetaValue(v any) (any, error) {
	switch x := v.(type) {
	case string, int64, float64, bool:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	}
	return nil, fmt.Errorf("%w: metadata value must be str, int, float or bool, got %T", ErrUnsupportedType, v)
}

// SetMetadata sets a local metadata value (string, int64, float64 or bool)
// and gossips it. It may be called before Start; the map is published when
// the node starts. The whole encoded map is capped at MaxMetadataSize.
func (c *Cluster) SetMetadata(key string, value any) error {
	if key == "" {
		return fmt.Errorf("%w: metadata key must not be empty", ErrInvalidArgument)
	}
	v, err := normalizeMetaValue(value)
	if err != nil {
		return err
	}
	return c.changeMetadata(func(m map[string]any) bool {
		if old, ok := m[key]; ok && old == v {
			return false
		}
		m[key] = v
		return true
	})
}

// DeleteMetadata removes a local metadata key and gossips the removal.
// Deleting a missing key is not an error.
func (c *Cluster) DeleteMetadata(key string) error {
	return c.changeMetadata(func(m map[string]any) bool {
		if _, ok := m[key]; !ok {
			return false
		}
		delete(m, key)
		return true
	})
}

// changeMetadata applies edit to a copy of the local map and, if it
// changed and still fits, installs it under a new version and publishes it.
func (c *Cluster) changeMetadata(edit func(map[string]any) bool) error {
	if c.state.Load() == stateStopped {
		return errNotRunning()
	}
	s := &c.meta
	s.mu.Lock()
	m := maps.Clone(s.local.values)
	if !edit(m) {
		s.mu.Unlock()
		return nil
	}
	enc, err := codec.EncodeValue(m)
	if err != nil {
		s.mu.Unlock()
		return wrapCodecError(err)
	}
	if len(enc) > MaxMetadataSize {
		s.mu.Unlock()
		return fmt.Errorf("%w: metadata would take %d bytes encoded, the limit is %d", ErrTooLarge, len(enc), MaxMetadataSize)
	}
	s.total += len(enc) - len(s.local.enc)
	s.local = metaEntry{version: s.local.version + 1, metaBody: &metaBody{values: m, enc: enc}}
	over := s.overBudget()
	s.mu.Unlock()
	if over {
		c.warnMetaBudget()
	}
	c.metaChanged(c.id, m, false)
	if c.running() {
		c.publishMeta()
	}
	return nil
}

// GetMetadata returns a local metadata value.
func (c *Cluster) GetMetadata(key string) (any, bool) {
	c.meta.mu.RLock()
	defer c.meta.mu.RUnlock()
	v, ok := c.meta.local.values[key]
	return v, ok
}

// AllMetadata returns a copy of the local metadata.
func (c *Cluster) AllMetadata() map[string]any {
	c.meta.mu.RLock()
	defer c.meta.mu.RUnlock()
	return maps.Clone(c.meta.local.values)
}

// appendEntry encodes (owner, version, map) as used by updates and state.
func appendEntry(dst []byte, owner string, e *metaEntry) []byte {
	dst = appendString(dst, owner)
	dst = binary.AppendUvarint(dst, e.version)
	dst = binary.AppendUvarint(dst, uint64(len(e.enc)))
	return append(dst, e.enc...)
}

// readEntry decodes one appendEntry record.
func readEntry(r *reader) (string, *metaEntry, error) {
	owner := r.string()
	version := r.uvarint()
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return "", nil, errBadEnvelope
	}
	enc := r.bytes(int(n))
	v, err := codec.DecodeValueMax(enc, MaxMetadataSize)
	if err != nil {
		return "", nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", nil, errBadEnvelope
	}
	if len(m) == 0 {
		return owner, emptyEntry(version), nil
	}
	return owner, &metaEntry{version: version, metaBody: &metaBody{values: m, enc: append([]byte(nil), enc...)}}, nil
}

// localUpdate builds the metaUpdate envelope for our own map.
func (c *Cluster) localUpdate(reliable bool) []byte {
	c.meta.mu.RLock()
	body := appendEntry(nil, c.id, &c.meta.local)
	c.meta.mu.RUnlock()
	return encodeEnvelope(&envelope{msgType: msgMetaUpdate, sender: c.id, payload: body, reliable: reliable}, c.tokenKey)
}

// publishMeta announces a new local version: by broadcast when it fits,
// and always through the header version (which triggers pulls).
func (c *Cluster) publishMeta() {
	if env := c.localUpdate(false); len(env) <= broadcastLimit {
		c.bcast.QueueBroadcast(&metaBroadcast{name: "meta/" + c.id, msg: env})
	}
	c.kickHeader()
}

// metaBroadcast is a named broadcast: a newer one for the same owner
// replaces an older one still in the queue.
type metaBroadcast struct {
	name string
	msg  []byte
}

func (b *metaBroadcast) Name() string    { return b.name }
func (b *metaBroadcast) Message() []byte { return b.msg }
func (b *metaBroadcast) Finished()       {}

// Invalidates reports whether other is an older broadcast of the same owner.
func (b *metaBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(memberlist.NamedBroadcast)
	return ok && o.Name() == b.name
}

var _ memberlist.NamedBroadcast = (*metaBroadcast)(nil)

// applyMetaUpdate stores a received metaUpdate if it is newer, and passes
// a first-seen broadcast on.
func (c *Cluster) applyMetaUpdate(e *envelope) {
	r := reader{b: e.payload}
	owner, entry, err := readEntry(&r)
	if err != nil {
		c.stats.decodeErrors.Add(1)
		return
	}
	if c.storeEntry(owner, entry) && !e.reliable && len(e.raw) <= broadcastLimit {
		c.bcast.QueueBroadcast(&metaBroadcast{name: "meta/" + owner, msg: e.raw})
	}
}

// storeEntry keeps entry if it is newer than what is held for owner.
func (c *Cluster) storeEntry(owner string, entry *metaEntry) bool {
	if owner == c.id || owner == "" {
		return false
	}
	s := &c.meta
	s.mu.Lock()
	old := s.remote[owner]
	if old != nil && old.version >= entry.version {
		s.mu.Unlock()
		return false
	}
	if old != nil {
		s.total -= len(old.enc)
	}
	s.total += len(entry.enc)
	s.remote[owner] = entry
	// Pulls are paced per owner until its map arrives; an idle node need
	// not keep a pull time for every peer.
	delete(s.lastPull, owner)
	c.stats.metaUpdates.Add(1)
	c.metaChanged(owner, entry.values, true)
	over := s.overBudget()
	s.mu.Unlock()
	if over {
		c.warnMetaBudget()
	}
	return true
}

// sendMetaTo sends our map to a node that asked for it. A map small enough
// for one packet goes by UDP (the asker pulls again if it is lost), so that
// pulls do not open a stream between every pair of nodes; larger maps use
// the reliable stream.
func (c *Cluster) sendMetaTo(id string) {
	p := c.peers.get(id)
	if p == nil || id == c.id {
		return
	}
	c.meta.mu.RLock()
	body := appendEntry(nil, c.id, &c.meta.local)
	c.meta.mu.RUnlock()
	if len(body)+envelopeOverhead(c.id) <= broadcastLimit {
		_ = c.sendUnreliable(p, msgMetaUpdate, "", body, 0)
		return
	}
	// Called on the receive path (a pull): never wait for window space.
	_, _ = c.senders.enqueue(context.Background(), c, id, outMsg{msgType: msgMetaUpdate, payload: body, internal: true}, time.Time{}, false)
}

// pullStaleMetadata asks owners whose header announces a newer metadata
// version than we hold for their map, and sends the digest fetches due.
func (c *Cluster) pullStaleMetadata() {
	c.fetchWanted()
	now := time.Now()
	for _, p := range c.alivePeers(nil) {
		if p.header == nil {
			continue
		}
		c.meta.mu.Lock()
		var have uint64
		if e := c.meta.remote[p.id]; e != nil {
			have = e.version
		}
		if c.meta.wanted(p.id) {
			// Being fetched by digest from a peer that holds it.
			c.meta.mu.Unlock()
			continue
		}
		last, asked := c.meta.lastPull[p.id]
		due := p.header.metaVersion > have && now.Sub(last) >= pullInterval
		if p.header.metaVersion > have && p.header.emptyMeta {
			// The header says the map is empty: nothing to pull.
			c.meta.mu.Unlock()
			c.storeEntry(p.id, emptyEntry(p.header.metaVersion))
			continue
		}
		if due && !asked && have == 0 {
			// A node just learnt of: its map is usually on its way by
			// broadcast. Pulling at once from every new node made a join
			// storm send two datagrams per pair of nodes, which loaded
			// hosts dropped together with the join gossip. Wait one
			// pullInterval first.
			due = false
			c.meta.lastPull[p.id] = now
		}
		if due {
			c.meta.lastPull[p.id] = now
		}
		c.meta.mu.Unlock()
		if due {
			c.stats.metaPulls.Add(1)
			// Best effort: the peer loop asks again while the header still
			// announces a newer version.
			_ = c.sendUnreliable(p, msgMetaPull, "", nil, 0)
		}
	}
}

// mergeState applies the push/pull state of a node of an earlier release,
// which carries every entry it knows in full.
func (c *Cluster) mergeState(e *envelope) {
	r := reader{b: e.payload}
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		owner, entry, err := readEntry(&r)
		if err != nil {
			c.stats.decodeErrors.Add(1)
			return
		}
		c.storeEntry(owner, entry)
	}
}
