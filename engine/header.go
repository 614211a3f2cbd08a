package engine

import (
	"encoding/binary"
	"errors"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/wirefmt"
)

// The node header is what the engine stores in memberlist's per-node
// metadata, which is capped at memberlist.MetaMaxSize (512) bytes and
// re-sent with every alive message. It therefore holds only small, fixed
// facts: the user metadata travels separately (see metadata.go) and the
// header only announces its version so peers know when to fetch it.
//
// Layout:
//
//	[0]     headerVersion
//	[1]     flags (hdrToken, hdrLeaving, hdrEmptyMeta, hdrObserver)
//	[2:10]  instance, big endian: random per Start, changes on restart
//	uvarint metadata version
//	uvarint len + app version
//	proofLen bytes of join proof, when hdrToken is set
//	uvarint tag count, then uvarint len + tag for each

const (
	headerVersion = 1
	hdrToken      = 1 << 0 // a join proof follows
	hdrLeaving    = 1 << 1 // the node is leaving gracefully
	// hdrEmptyMeta: the metadata map at metaVersion is empty. Peers then
	// store the empty map without pulling it: every node starts with an
	// empty map under a fresh version, so without this flag a join storm
	// made every node pull every other node's (empty) map, two datagrams
	// per pair of nodes landing while the join gossip was still spreading.
	// Older peers ignore the bit and pull as before.
	hdrEmptyMeta = 1 << 2
	// hdrObserver: the node only watches (observer.go); elections and node
	// groups do not count it. Older peers ignore the bit.
	hdrObserver = 1 << 3
)

var errBadHeader = errors.New("malformed node header")

// nodeHeader is the decoded node metadata of a peer.
type nodeHeader struct {
	leaving     bool
	instance    uint64
	metaVersion uint64
	emptyMeta   bool // the map at metaVersion is empty
	observer    bool // the node only watches
	appVersion  string
	proof       []byte // nil without a token
	tags        []string
}

// encode appends the header to dst.
func (h *nodeHeader) encode(dst []byte) []byte {
	flags := byte(0)
	if h.proof != nil {
		flags |= hdrToken
	}
	if h.leaving {
		flags |= hdrLeaving
	}
	if h.emptyMeta {
		flags |= hdrEmptyMeta
	}
	if h.observer {
		flags |= hdrObserver
	}
	dst = append(dst, headerVersion, flags)
	dst = binary.BigEndian.AppendUint64(dst, h.instance)
	dst = binary.AppendUvarint(dst, h.metaVersion)
	dst = appendString(dst, h.appVersion)
	if h.proof != nil {
		dst = append(dst, h.proof...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(h.tags)))
	for _, t := range h.tags {
		dst = appendString(dst, t)
	}
	return dst
}

// decodeHeader parses a peer's node metadata.
func decodeHeader(b []byte) (*nodeHeader, error) {
	if len(b) < 10 || b[0] != headerVersion {
		return nil, errBadHeader
	}
	h := &nodeHeader{leaving: b[1]&hdrLeaving != 0, emptyMeta: b[1]&hdrEmptyMeta != 0, observer: b[1]&hdrObserver != 0,
		instance: binary.BigEndian.Uint64(b[2:10])}
	r := reader{b: b[10:]}
	h.metaVersion = r.uvarint()
	h.appVersion = r.string()
	if b[1]&hdrToken != 0 {
		h.proof = r.bytes(proofLen)
	}
	n := r.uvarint()
	if n > memberlist.MetaMaxSize {
		return nil, errBadHeader
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		h.tags = append(h.tags, r.string())
	}
	if r.err != nil {
		return nil, errBadHeader
	}
	return h, nil
}

// hasTag reports whether tags contains tag.
func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// appendString appends a uvarint length and the bytes of s.
func appendString(dst []byte, s string) []byte {
	return wirefmt.AppendString(dst, s)
}

// reader decodes the engine's small binary formats with wirefmt's reads,
// failing with errBadHeader; the first error sticks and later reads return
// zero values, so callers check err once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64    { return wirefmt.Uvarint(&r.b, &r.err, errBadHeader) }
func (r *reader) bytes(n int) []byte { return wirefmt.Bytes(&r.b, &r.err, errBadHeader, n) }
func (r *reader) string() string     { return wirefmt.Str(&r.b, &r.err, errBadHeader) }
