package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// Fuzz targets for every decoder that reads bytes a peer sent: the message
// envelope, the node header (memberlist node metadata), the push/pull
// metadata state, and the whole inbound message path. None of them may
// panic, and what decodes must survive a re-encoding unchanged. The seed
// corpus is in testdata/fuzz/<target>/; .ci/fuzz runs every target.

// fuzzKey is the token key the authenticated seeds are made with.
var fuzzKey = tokenKey("fuzz-token")

// fuzzEnvelopes are valid envelopes of every kind, without and with a MAC.
func fuzzEnvelopes() [][]byte {
	payload := func(v any) []byte {
		c := &Cluster{cfg: &settings{}}
		b, _, err := c.encodePayload(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	meta := appendEntry(nil, "owner", &metaEntry{version: 7, metaBody: &metaBody{enc: payload(map[string]any{"role": "web", "n": int64(3)})}})
	state := appendEntry(appendEntryCount(2), "a", &metaEntry{version: 1, metaBody: &metaBody{enc: payload(map[string]any{})}})
	state = appendEntry(state, "b", &metaEntry{version: 9, metaBody: &metaBody{enc: payload(map[string]any{"k": true})}})
	digest := appendString(appendEntryCount(2), "n1")
	digest = appendString(append(binary.AppendUvarint(digest, 5), digestEmpty), "owner")
	digest = append(binary.AppendUvarint(digest, 7), 0)
	fetch := appendString(binary.AppendUvarint(appendEntryCount(1), 1), "fuzz-node")
	fetch = binary.AppendUvarint(fetch, 0)
	chunk := append(binary.AppendUvarint(binary.AppendUvarint(appendEntryCount(1), 1), 1), meta...)
	envs := []*envelope{
		{msgType: 128, sender: "n1", payload: payload("hello")},
		{msgType: 65535, sender: "n1", tag: "web", payload: payload([]any{int64(1), 2.5, nil})},
		{msgType: 200, sender: "n1", session: sessionID{5}, seq: 1, dest: 42, reliable: true, payload: payload(map[string]any{"a": "b"})},
		{msgType: 200, sender: "n1", session: sessionID{5}, seq: 2, reliable: true, flags: envCompressed,
			payload: snappyFrame(payload(string(bytes.Repeat([]byte("z"), 600))))},
		{msgType: msgMetaUpdate, sender: "n1", payload: meta},
		{msgType: msgMetaPull, sender: "n1"},
		{msgType: msgState, sender: "n1", payload: state},
		{msgType: msgMetaDigest, sender: "n1", payload: digest},
		{msgType: msgMetaFetch, sender: "n1", session: sessionID{6}, seq: 1, reliable: true, payload: fetch},
		{msgType: msgMetaChunk, sender: "n1", session: sessionID{6}, seq: 2, reliable: true, payload: chunk},
	}
	var out [][]byte
	for _, e := range envs {
		out = append(out, encodeEnvelope(e, nil), encodeEnvelope(e, fuzzKey))
	}
	return out
}

// appendEntryCount starts a state body holding n entries.
func appendEntryCount(n uint64) []byte {
	return binary.AppendUvarint(nil, n)
}

// snappyFrame compresses b the way the engine does when compression is on.
func snappyFrame(b []byte) []byte {
	c := &Cluster{cfg: &settings{Config: Config{Compression: true, CompressMinSize: 1}}}
	v, err := decodePayload(&envelope{payload: b})
	if err != nil {
		panic(err)
	}
	out, flags, err := c.encodePayload(v)
	if err != nil || flags&envCompressed == 0 {
		panic("seed did not compress")
	}
	return out
}

// newFuzzCluster is a node that was never started, wired up enough to merge
// state without a network: broadcasts go to a local queue.
func newFuzzCluster(t testing.TB, token string) *Cluster {
	c, err := New(Config{NodeID: "fuzz-node", BearerToken: token, EventQueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	c.bcast = &memberlist.TransmitLimitedQueue{NumNodes: func() int { return 1 }, RetransmitMult: 1}
	c.state.Store(stateRunning) // merge paths check it; nothing is listening
	return c
}

// startFuzzPair starts a node and a member "n1" (the seeds' sender) on an
// in-memory network, so that inbound messages take the real path, replies
// and all, without sockets. They are stopped when the fuzz target ends.
func startFuzzPair(f *testing.F, token string) *Cluster {
	fn := faultnet.NewNetworkWithSeed(1)
	start := func(id string) *Cluster {
		tr, err := fn.NewTransportAuto()
		if err != nil {
			f.Fatal(err)
		}
		cfg := faultConfig(id, tr)
		cfg.BearerToken = token
		c, err := New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		if err := c.Start(); err != nil {
			f.Fatal(err)
		}
		return c
	}
	target, peer := start("fuzz-node"), start("n1")
	f.Cleanup(func() {
		peer.stop(false)
		target.stop(false)
		_ = fn.Close()
	})
	if _, err := peer.Join(context.Background(), []string{target.LocalNode().Addr}); err != nil {
		f.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for target.NumAlive() != 2 {
		if time.Now().After(deadline) {
			f.Fatal("fuzz pair did not converge")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return target
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, b := range fuzzEnvelopes() {
		f.Add(b)
	}
	f.Add([]byte{envelopeVersion, envMAC, 0, 128})
	f.Add([]byte{envelopeVersion, 0, 0, 128, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, key := range [][]byte{nil, fuzzKey} {
			e, err := decodeEnvelope(in, key)
			if err != nil {
				continue
			}
			_, _ = decodePayload(e) // must not panic, whatever the payload
			again := *e
			again.flags &^= envMAC
			e2, err := decodeEnvelope(encodeEnvelope(&again, key), key)
			if err != nil {
				t.Fatalf("re-encoded envelope does not decode: %v", err)
			}
			if e2.msgType != e.msgType || e2.sender != e.sender || e2.session != e.session || e2.seq != e.seq ||
				e2.dest != e.dest || e2.tag != e.tag || e2.reliable != e.reliable || !bytes.Equal(e2.payload, e.payload) {
				t.Fatalf("round trip changed the envelope: %+v vs %+v", e, e2)
			}
		}
	})
}

func FuzzDecodeNodeHeader(f *testing.F) {
	for _, h := range []nodeHeader{
		{instance: 1},
		{instance: 1<<63 | 5, metaVersion: 1 << 60, appVersion: "1.2.3", tags: []string{"web", "worker"}},
		{leaving: true, instance: 3, proof: joinProof(fuzzKey, "n1"), tags: []string{"a"}},
	} {
		f.Add(h.encode(nil))
	}
	f.Add([]byte{headerVersion, hdrToken, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Add([]byte{headerVersion, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := decodeHeader(in)
		if err != nil {
			return
		}
		h2, err := decodeHeader(h.encode(nil))
		if err != nil {
			t.Fatalf("re-encoded header does not decode: %v", err)
		}
		if h2.leaving != h.leaving || h2.instance != h.instance || h2.metaVersion != h.metaVersion ||
			h2.appVersion != h.appVersion || !bytes.Equal(h2.proof, h.proof) || !slices.Equal(h2.tags, h.tags) {
			t.Fatalf("round trip changed the header: %+v vs %+v", h, h2)
		}
	})
}

func FuzzMergeState(f *testing.F) {
	for _, b := range fuzzEnvelopes() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newFuzzCluster(t, "")
		c.mergeRemoteState(append([]byte(nil), in...))
		// Whatever was stored must travel on: the next push/pull of this
		// node must merge cleanly into a fresh node.
		d := newFuzzCluster(t, "")
		d.id = "fuzz-other"
		before := d.stats.decodeErrors.Load()
		d.mergeRemoteState(c.encodeDigest())
		if d.stats.decodeErrors.Load() != before {
			t.Fatalf("digest of merged entries does not merge")
		}
		c.meta.mu.RLock()
		defer c.meta.mu.RUnlock()
		for owner, e := range c.meta.remote {
			if owner == "" || owner == c.id || e.enc == nil {
				t.Fatalf("bad entry stored for %q: %+v", owner, e)
			}
		}
		for owner, w := range c.meta.want {
			if owner == "" || owner == c.id || w.from == "" || w.from == c.id {
				t.Fatalf("bad want recorded for %q: %+v", owner, w)
			}
		}
	})
}

// FuzzReceive feeds arbitrary datagrams through the whole inbound path
// (membership and token checks, envelope, ordering, internal messages and
// their replies, payload decoding, queueing and dispatch) of a running node,
// with and without a bearer token. The nodes live for the whole run, so
// ordering state carries over from one input to the next, as on a network.
func FuzzReceive(f *testing.F) {
	for _, b := range fuzzEnvelopes() {
		f.Add(b)
	}
	nodes := []*Cluster{startFuzzPair(f, ""), startFuzzPair(f, "fuzz-token")}
	for _, c := range nodes {
		if err := c.Handle(128, func(Message) {}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, c := range nodes {
			c.receive(append([]byte(nil), in...), false)
			c.Dispatch()
		}
	})
}
