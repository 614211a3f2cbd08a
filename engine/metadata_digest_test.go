package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/codec"
)

// offlineNode is a node that was never started, for the state builders.
func offlineNode(t *testing.T, id string, logger *slog.Logger) *Cluster {
	t.Helper()
	c, err := New(Config{NodeID: id, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// entryOf encodes values as a metadata entry at version.
func entryOf(t testing.TB, version uint64, values map[string]any) *metaEntry {
	t.Helper()
	enc, err := codec.EncodeValue(values)
	if err != nil {
		t.Fatal(err)
	}
	return &metaEntry{version: version, metaBody: &metaBody{values: values, enc: enc}}
}

// ownerID is a node id as long as a generated one (a UUID, 36 bytes).
func ownerID(i int) string { return fmt.Sprintf("owner-%030d", i) }

// A push/pull carries a digest whose size grows with the number of nodes
// only, by a few dozen bytes per node, whatever the size of their maps.
func TestDigestSizeBoundedAsNGrows(t *testing.T) {
	digestLen := func(n, mapSize int) int {
		c := offlineNode(t, ownerID(0), nil)
		e := entryOf(t, 1, map[string]any{"blob": strings.Repeat("m", mapSize)})
		for i := 1; i < n; i++ {
			c.meta.remote[ownerID(i)] = &metaEntry{version: uint64(time.Now().UnixNano()), metaBody: e.metaBody}
		}
		return len(c.encodeDigest())
	}
	for _, n := range []int{8, 32, 128} {
		small, big := digestLen(n, 1<<10), digestLen(n, 64<<10)
		t.Logf("N=%d: push/pull user state %d bytes (%d per node)", n, small, small/n)
		if small != big {
			t.Errorf("N=%d: digest is %d bytes with 1 KiB maps, %d with 64 KiB maps; it must not carry the maps", n, small, big)
		}
		if limit := 64*n + 64; small > limit {
			t.Errorf("N=%d: digest is %d bytes, want at most %d (64 per node)", n, small, limit)
		}
	}
}

// Past digestMaxBytes the digest carries a subset, so that a push/pull
// stays bounded at any cluster size, and it still merges.
func TestDigestCapped(t *testing.T) {
	c := offlineNode(t, ownerID(0), nil)
	n := digestMaxBytes/40 + 10_000
	e := entryOf(t, 5, map[string]any{"k": int64(1)})
	for i := 1; i < n; i++ {
		c.meta.remote[ownerID(i)] = e
	}
	env := c.encodeDigest()
	if len(env) > digestMaxBytes+256 {
		t.Fatalf("digest of %d entries is %d bytes, over the cap of %d", n, len(env), digestMaxBytes)
	}
	d := offlineNode(t, "other", nil)
	d.state.Store(stateRunning)
	d.mergeRemoteState(env)
	if d.stats.decodeErrors.Load() != 0 {
		t.Fatal("capped digest does not merge")
	}
	got := len(d.meta.want)
	if got == 0 || got >= n {
		t.Fatalf("capped digest gave %d wants of %d entries", got, n)
	}
	if d.meta.remote[ownerID(0)] == nil {
		t.Fatal("the sender's own (empty) entry must always be in its digest")
	}
}

// fetchRequest encodes a fetch for owners, all held at version have.
func fetchRequest(id uint64, owners []string, have uint64) []byte {
	b := binary.AppendUvarint(nil, id)
	b = binary.AppendUvarint(b, uint64(len(owners)))
	for _, o := range owners {
		b = appendString(b, o)
		b = binary.AppendUvarint(b, have)
	}
	return b
}

// readChunk decodes a chunk: fetch id, owners gone through, entries.
func readChunk(t *testing.T, b []byte) (uint64, int, map[string]*metaEntry) {
	t.Helper()
	r := reader{b: b}
	id, through, n := r.uvarint(), r.uvarint(), r.uvarint()
	out := map[string]*metaEntry{}
	for range n {
		owner, e, err := readEntry(&r)
		if err != nil {
			t.Fatal(err)
		}
		out[owner] = e
	}
	if r.err != nil || len(r.b) != 0 {
		t.Fatalf("chunk does not decode: %v, %d bytes left", r.err, len(r.b))
	}
	return id, int(through), out
}

// A fetch of hundreds of maps is answered in chunks of at most
// fetchChunkBytes (one larger map alone), each well inside a reliable
// window; the asker gets every entry by asking for the rest.
func TestFetchAnsweredInBoundedChunks(t *testing.T) {
	c := offlineNode(t, "src", nil)
	var owners []string
	for i := range 300 {
		o := ownerID(i)
		owners = append(owners, o)
		c.meta.remote[o] = entryOf(t, 10, map[string]any{"blob": o + strings.Repeat("x", 10<<10)})
	}
	// Held at the asker's version or not held: gone through, not sent.
	owners = append(owners, "unknown")
	c.meta.remote["same"] = entryOf(t, 3, map[string]any{})
	owners = append(owners, "same")
	c.meta.remote["huge"] = entryOf(t, 10, map[string]any{"blob": strings.Repeat("h", MaxMetadataSize-16)})
	owners = append(owners, "huge")

	got := map[string]*metaEntry{}
	rest, chunks := owners, 0
	for len(rest) > 0 {
		chunks++
		if chunks > 20 {
			t.Fatal("fetch does not make progress")
		}
		body, ok := c.buildChunk(fetchRequest(uint64(chunks), rest, 3))
		if !ok {
			t.Fatal("request refused")
		}
		if len(body) > fetchChunkBytes+MaxMetadataSize/64 && !bytes.Contains(body, []byte("hhhh")) {
			t.Fatalf("chunk %d is %d bytes, over the %d budget", chunks, len(body), fetchChunkBytes)
		}
		if len(body) > windowBytes/4 {
			t.Fatalf("chunk %d is %d bytes: a quarter of the reliable window at most", chunks, len(body))
		}
		id, through, entries := readChunk(t, body)
		if id != uint64(chunks) || through == 0 || through > len(rest) {
			t.Fatalf("chunk %d: id %d, went through %d of %d", chunks, id, through, len(rest))
		}
		for o, e := range entries {
			got[o] = e
		}
		rest = rest[through:]
	}
	if len(got) != 301 || got["huge"] == nil || got["same"] != nil {
		t.Fatalf("got %d entries (huge %v, same %v), want the 300 maps and the huge one", len(got), got["huge"] != nil, got["same"] != nil)
	}
	if chunks < 4 {
		t.Fatalf("%d chunks for %d MiB: not chunked", chunks, 4)
	}
	t.Logf("%d entries in %d chunks", len(got), chunks)
	if _, ok := c.buildChunk([]byte{1, 200}); ok {
		t.Fatal("a truncated request must be refused")
	}
}

// Past MetadataClusterBudget a node logs a warning (once per period); the
// entry is still kept.
func TestMetadataBudgetWarns(t *testing.T) {
	var buf syncBuffer
	c := offlineNode(t, "n0", slog.New(slog.NewTextHandler(&buf, nil)))
	c.meta.total = MetadataClusterBudget - 10
	c.storeEntry("a", entryOf(t, 1, map[string]any{"k": strings.Repeat("v", 64)}))
	c.storeEntry("b", entryOf(t, 1, map[string]any{"k": strings.Repeat("v", 64)}))
	out := buf.String()
	if n := strings.Count(out, "cluster metadata past budget"); n != 1 {
		t.Fatalf("%d budget warnings, want 1; log:\n%s", n, out)
	}
	if !strings.Contains(out, "budget_bytes=67108864") || c.meta.remote["b"] == nil {
		t.Fatalf("warning %q, entry kept %v", out, c.meta.remote["b"] != nil)
	}
	held := c.MetadataHeld()
	c.meta.forget("a")
	if c.MetadataHeld() >= held {
		t.Fatalf("forgetting an entry does not lower the volume held: %d -> %d", held, c.MetadataHeld())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// headerOwner is a plain memberlist member announcing an engine header: a
// member whose metadata map only the others hold, which keeps a test of a
// large cluster-wide volume within one process's memory (every engine node
// holds every map).
type headerOwner struct{ meta []byte }

func (d *headerOwner) NodeMeta(int) []byte                 { return d.meta }
func (d *headerOwner) NotifyMsg([]byte)                    {}
func (d *headerOwner) GetBroadcasts(int, int) [][]byte     { return nil }
func (d *headerOwner) LocalState(bool) []byte              { return nil }
func (d *headerOwner) MergeRemoteState(buf []byte, _ bool) {}

func startHeaderOwner(t *testing.T, id string, version uint64, join string) {
	t.Helper()
	mc := memberlist.DefaultLANConfig()
	mc.Name = id
	mc.BindAddr = "127.0.0.1"
	mc.BindPort = 0
	mc.AdvertisePort = 0
	mc.ProbeInterval = time.Second // as lax as TestLateJoinPastPushPullLimit's nodes
	mc.ProbeTimeout = 900 * time.Millisecond
	mc.GossipInterval = 20 * time.Millisecond
	mc.SuspicionMult = 8
	mc.PushPullInterval = 0
	mc.Logger = log.New(io.Discard, "", 0)
	mc.Delegate = &headerOwner{meta: (&nodeHeader{instance: version, metaVersion: version}).encode(nil)}
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ml.Leave(100 * time.Millisecond)
		_ = ml.Shutdown()
	})
	if _, err := ml.Join([]string{join}); err != nil {
		t.Fatal(err)
	}
}

// holdsAll reports whether c holds every entry of want at its version.
func holdsAll(c *Cluster, want map[string]*metaEntry) bool {
	c.meta.mu.RLock()
	defer c.meta.mu.RUnlock()
	for owner, w := range want {
		if owner == c.id {
			continue
		}
		if e := c.meta.remote[owner]; e == nil || e.version != w.version {
			return false
		}
	}
	return true
}

// A cluster holding 24 maps of 950 KB (22.8 MB in all, past memberlist's
// 20 MiB push/pull limit): a push/pull between two of its nodes and a late
// node's join both succeed, and both nodes get every entry by digest. 22
// of the owners are plain memberlist members whose maps the seed holds
// (see headerOwner).
func TestLateJoinPastPushPullLimit(t *testing.T) {
	const owners, size = 24, 950_000
	// Lax failure detection: 22 MB moved twice under -race on two loaded
	// cores must not get a node declared dead, which is not what this test
	// is about. The periodic push/pull is slow but on: a fetch whose answer
	// was dropped (a full window) is asked again after the next digest, as
	// in a real cluster.
	gentle := func(cfg *Config) {
		cfg.ProbeInterval, cfg.ProbeTimeout, cfg.SuspicionMult = time.Second, 900*time.Millisecond, 8
		cfg.PushPullInterval = 10 * time.Second
	}
	nodes := startCluster(t, 2, func(_ int, cfg *Config) { gentle(cfg) })
	seed := nodes[0]
	want := map[string]*metaEntry{}
	for _, c := range nodes {
		if err := c.SetMetadata("blob", c.id+strings.Repeat("b", size)); err != nil {
			t.Fatal(err)
		}
		c.meta.mu.RLock()
		want[c.id] = &metaEntry{version: c.meta.local.version, metaBody: &metaBody{enc: c.meta.local.enc}}
		c.meta.mu.RUnlock()
	}
	// The seed holds the owners' maps as if it had pulled them. They differ
	// only in their first bytes: one encoding, patched per owner, keeps the
	// setup cheap under -race.
	tmpl := entryOf(t, 1, map[string]any{"blob": "o00" + strings.Repeat("o", size)})
	at := bytes.Index(tmpl.enc, []byte("o00"))
	for i := range owners - len(nodes) {
		id := fmt.Sprintf("o%02d", i)
		version := uint64(1000 + i)
		startHeaderOwner(t, id, version, seed.LocalNode().Addr)
		enc := bytes.Clone(tmpl.enc)
		copy(enc[at:], id)
		e := &metaEntry{version: version, metaBody: &metaBody{values: map[string]any{"blob": id + strings.Repeat("o", size)}, enc: enc}}
		want[id] = e
		seed.storeEntry(id, e)
	}
	total := 0
	for _, e := range want {
		total += len(e.enc)
	}
	if total <= 20<<20 || seed.MetadataHeld() != total {
		t.Fatalf("test setup: %d bytes of metadata (seed holds %d), want more than memberlist's 20 MiB", total, seed.MetadataHeld())
	}
	waitFor(t, 60*time.Second, "every member alive on the seed", func() bool { return seed.NumAlive() == owners })

	// A push/pull between two members (what Join does with a known node).
	t0 := time.Now()
	if _, err := nodes[1].Join(context.Background(), []string{seed.LocalNode().Addr}); err != nil {
		t.Fatalf("push/pull with a node holding %d bytes of metadata: %v", total, err)
	}
	late := startNode(t, func() Config { cfg := testConfig("late"); gentle(&cfg); return cfg }())
	if _, err := late.Join(context.Background(), []string{seed.LocalNode().Addr}); err != nil {
		t.Fatalf("a late node cannot join a cluster holding %d bytes of metadata: %v", total, err)
	}
	waitFor(t, 60*time.Second, "the late node to see every member", func() bool { return late.NumAlive() == owners+1 })
	for _, c := range []*Cluster{nodes[1], late} {
		waitFor(t, 90*time.Second, c.id+" to get every map", func() bool { return holdsAll(c, want) })
		c.meta.mu.RLock()
		for owner, w := range want {
			if e := c.meta.remote[owner]; owner != c.id && !bytes.Equal(e.enc, w.enc) {
				t.Errorf("%s: %s's map differs from the owner's", c.id, owner)
			}
		}
		c.meta.mu.RUnlock()
	}
	t.Logf("%d bytes of metadata fetched by two nodes in %v", total, time.Since(t0))
	if v, ok := metaOf(late, "o07")["blob"].(string); !ok || !strings.HasPrefix(v, "o07oo") || len(v) != size+3 {
		t.Errorf("late node's view of o07: %.10q (%d bytes)", v, len(v))
	}
	if n := len(late.encodeDigest()); n > 64*(owners+1) {
		t.Errorf("the late node's push/pull state is %d bytes for %d entries", n, owners+1)
	}
	if got := late.MetadataHeld(); got < total {
		t.Errorf("late node reports %d bytes held, want at least %d", got, total)
	}
}

// Empty maps are flagged in the digest and stored at once: a join storm of
// nodes that never set metadata fetches nothing. Other maps are wanted
// from the digest's sender.
func TestDigestStoresEmptyMapsWithoutFetch(t *testing.T) {
	c := offlineNode(t, "src", nil)
	c.meta.remote["empty"] = &metaEntry{version: 5, metaBody: &metaBody{values: map[string]any{}, enc: emptyMapEnc}}
	c.meta.remote["full"] = entryOf(t, 6, map[string]any{"k": "v"})
	d := offlineNode(t, "dst", nil)
	d.state.Store(stateRunning)
	d.mergeRemoteState(c.encodeDigest())
	if e := d.meta.remote["empty"]; e == nil || e.version != 5 || len(e.values) != 0 {
		t.Fatalf("empty map not stored from the digest: %+v", e)
	}
	if e := d.meta.remote["src"]; e == nil || len(e.values) != 0 {
		t.Fatalf("the sender's own empty map not stored: %+v", e)
	}
	if len(d.meta.want) != 1 || d.meta.want["full"].from != "src" || d.meta.want["full"].version != 6 {
		t.Fatalf("wants = %+v, want only full@6 from src", d.meta.want)
	}
}
