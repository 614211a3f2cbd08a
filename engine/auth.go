package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"strings"
	"time"
)

// Bearer-token authentication.
//
// The token itself never crosses the wire. Each node puts a proof in its
// memberlist node metadata: HMAC-SHA256(key = SHA-256(token), msg = nodeID |
// "join"), truncated to proofLen bytes. Peers recompute it for the claimed id
// when they see the node alive or merge state with it at join. Every engine
// envelope carries an HMAC over its bytes with the same key, so messages from
// nodes without the token are dropped before dispatch.
//
// Without encryption the join proof is replayable: an on-path attacker that
// captures a node's header can announce that node id with it. It cannot
// forge message MACs, but it can disturb membership. Encryption
// (EncryptionKey) plus a token is the recommended setup.

const (
	proofLen = 16 // bytes of the truncated join proof
	macLen   = 16 // bytes of the truncated envelope MAC
)

// tokenKey derives the HMAC key from the bearer token; nil means no token.
func tokenKey(token string) []byte {
	if token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// joinProof is the proof a node with id nodeID publishes in its header.
func joinProof(key []byte, nodeID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nodeID))
	m.Write([]byte("|join"))
	return m.Sum(nil)[:proofLen]
}

// envelopeMAC authenticates the envelope bytes that precede the MAC.
func envelopeMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

// memberWait bounds how long a reliable message from a sender that is not
// (yet) in the peer table waits for membership to catch up: a node that has
// just joined may send before this node has merged the join.
const memberWait = 2 * time.Second

// fromMember reports whether e comes from a node memberlist admitted (it
// passed checkPeer: token proof and app version). The token MAC only shows
// that the sender holds the token; a node refused for its app version may
// hold it too, and without a token anyone can address a node directly, so
// messages (user messages, requests, replies, elections, key rotation) are
// also checked against membership. Nodes that failed or left stay known
// until memberlist forgets them, so their last messages are not lost.
// Unreliable messages are judged at once; reliable ones may wait up to
// memberWait, which pushes back on that sender's stream only.
func (c *Cluster) fromMember(e *envelope) bool {
	if e.sender == c.id || e.sender == "" {
		return false // never sent over the network by this node
	}
	known := func() bool {
		return c.peers.get(e.sender) != nil
	}
	if known() {
		return true
	}
	if !e.reliable {
		return false
	}
	deadline := time.Now().Add(memberWait)
	for time.Now().Before(deadline) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-c.stopCh:
			return false
		}
		if known() {
			return true
		}
	}
	return false
}

// semver is the numeric prefix of a semantic version.
type semver struct{ major, minor int }

// parseSemver reads "[v]MAJOR[.MINOR[.PATCH]][-pre][+build]".
func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return semver{}, false
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return semver{}, false
		}
		nums[i] = n
	}
	return semver{major: nums[0], minor: nums[1]}, true
}

// compatibleVersions decides whether nodes with application versions a and b
// may form a cluster. Equal strings always match. Otherwise both must parse
// as semantic versions with the same major, and the same minor while the
// major is 0 (pre-1.0 minors may break compatibility). An empty version
// matches only another empty version, and a version that does not parse
// matches only itself: when in doubt, refuse rather than mix.
func compatibleVersions(a, b string) bool {
	if a == b {
		return true
	}
	if a == "" || b == "" {
		return false
	}
	va, okA := parseSemver(a)
	vb, okB := parseSemver(b)
	if !okA || !okB {
		return false
	}
	if va.major != vb.major {
		return false
	}
	return va.major != 0 || va.minor == vb.minor
}
