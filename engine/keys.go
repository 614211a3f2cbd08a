package engine

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Encryption key rotation.
//
// Every node holds a keyring (memberlist's): one primary key that seals
// everything it sends, and any number of secondary keys it also accepts.
// memberlist reads the ring for every packet and internal/streams for every
// frame, so changing the ring changes the keys of all traffic at once.
// Rotation without downtime is three cluster-wide steps, each started from
// any one node and applied there and on every member it can reach:
//
//  1. InstallKey(new): every node accepts the new key besides the old one.
//  2. UseKey(new): every node seals with the new key; since all of them
//     already accept it, nothing in flight is refused.
//  3. RemoveKey(old): the old key is no longer accepted anywhere.
//
// Each step reports which nodes applied it (KeyResult); a step is repeated
// until every node is in OK before the next step runs, or a node is cut off.
//
// The requests travel as internal envelopes over memberlist's TCP stream
// (not the ordered reliable path, so a backlog of user messages never holds
// them up). Like every packet and stream of an encrypted cluster they are
// sealed with the current primary key, and like every envelope they carry
// the bearer-token MAC when a token is set. A receiver acts only on requests
// from a current member, issued within keyRequestMaxAge of its own clock and
// not seen before, so a recorded request cannot be replayed later. Keys
// never appear in replies or logs: nodes report key fingerprints.

// ErrNoEncryption: key rotation was asked of a node created without an
// encryption key (a cluster without encryption has no keys to rotate).
var ErrNoEncryption = errors.New("encryption not enabled")

// Internal message types of key rotation; see envelope.go for the others.
const (
	msgKeyRequest = 16 // coordinator -> member: apply a key operation
	msgKeyReply   = 17 // member -> coordinator: outcome and key fingerprints
)

// Key operations carried in a msgKeyRequest.
const (
	keyOpInstall byte = 1
	keyOpUse     byte = 2
	keyOpRemove  byte = 3
	keyOpList    byte = 4
)

const (
	// keyRequestTimeout bounds one rotation step: members that have not
	// answered by then are reported as failed.
	keyRequestTimeout = 5 * time.Second
	// keyRequestMaxAge is how far a request's issue time may be from the
	// receiver's clock; older (or future) requests are refused as replays.
	// Clocks of members must agree within this.
	keyRequestMaxAge = 2 * time.Minute
	// keySendAttempts is how often a request is written before giving up.
	keySendAttempts = 3
)

// KeyResult reports one cluster-wide key operation.
type KeyResult struct {
	Key    string            // fingerprint of the key acted on (see KeyFingerprint)
	OK     []string          // ids of the nodes that applied it, this node included, sorted
	Failed map[string]string // node id -> why it did not apply there (refused, unreachable, no reply)
}

// KeyList reports the keys installed across the cluster, as fingerprints.
type KeyList struct {
	Primary   string            // fingerprint of this node's primary key
	Keys      map[string]any    // fingerprint -> number of answering nodes holding the key (int64)
	Primaries map[string]any    // fingerprint -> number of answering nodes sealing with it (int64)
	Nodes     int               // nodes that answered, this one included
	Failed    map[string]string // node id -> why it did not answer
}

// KeyFingerprint names a key without revealing it: the first 8 bytes of a
// domain-separated SHA-256 of the key, in hex. Logs and results use it.
func KeyFingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("scriptling-gossip key fingerprint\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// keyOps is the rotation state of one node.
type keyOps struct {
	callMu sync.Mutex // one rotation step started here at a time
	ringMu sync.Mutex // serialises changes to the keyring (local and remote requests)

	mu      sync.Mutex
	pending map[uint64]*keyWait // requests of the current step, by id
	seen    map[uint64]time.Time
}

// keyWait is one request waiting for its reply.
type keyWait struct {
	target string
	reply  chan keyReply
}

// keyReply is a member's answer.
type keyReply struct {
	err     string   // empty on success
	primary string   // fingerprint of the member's primary key
	keys    []string // fingerprints of every key it holds
}

// InstallKey adds key to the keyring of every member; they keep sealing
// with their current primary key but now also accept key.
func (c *Cluster) InstallKey(key string) (KeyResult, error) {
	return c.keyStep(keyOpInstall, key)
}

// UseKey makes key the primary key of every member; it must have been
// installed everywhere first (InstallKey).
func (c *Cluster) UseKey(key string) (KeyResult, error) {
	return c.keyStep(keyOpUse, key)
}

// RemoveKey removes key from the keyring of every member. It is refused
// while any member that answers still seals with it: switch with UseKey first.
func (c *Cluster) RemoveKey(key string) (KeyResult, error) {
	return c.keyStep(keyOpRemove, key)
}

// ListKeys asks every member which keys it holds and reports fingerprints
// with the number of nodes holding each.
func (c *Cluster) ListKeys() (KeyList, error) {
	if err := c.keyPreflight(); err != nil {
		return KeyList{}, err
	}
	c.keyOps.callMu.Lock()
	defer c.keyOps.callMu.Unlock()
	replies, failed := c.keyRound(keyOpList, nil)
	out := KeyList{
		Primary:   KeyFingerprint(c.cfg.keyring.GetPrimaryKey()),
		Keys:      map[string]any{},
		Primaries: map[string]any{},
		Nodes:     len(replies),
		Failed:    failed,
	}
	for _, r := range replies {
		out.Primaries[r.primary] = countOf(out.Primaries, r.primary) + 1
		for _, fp := range r.keys {
			out.Keys[fp] = countOf(out.Keys, fp) + 1
		}
	}
	return out, nil
}

func countOf(m map[string]any, k string) int64 {
	n, _ := m[k].(int64)
	return n
}

// keyPreflight checks that rotation is possible at all on this node.
func (c *Cluster) keyPreflight() error {
	if !c.running() || c.left.Load() {
		return errNotRunning()
	}
	if c.cfg.keyring == nil {
		return fmt.Errorf("%w: this cluster has no encryption key, so there is nothing to rotate; create every node with encryption_key to use key rotation", ErrNoEncryption)
	}
	return nil
}

// checkKey validates a key given to a rotation method.
func checkKey(key string) error {
	switch n := len(key); n {
	case 16, 24, 32:
		return nil
	default:
		return fmt.Errorf("%w: key must be 16, 24 or 32 bytes, got %d", ErrInvalidArgument, n)
	}
}

// keyStep runs one install, use or remove step: locally first (a local
// refusal is returned as an error and nothing is sent), then on every member.
func (c *Cluster) keyStep(op byte, key string) (KeyResult, error) {
	if err := c.keyPreflight(); err != nil {
		return KeyResult{}, err
	}
	if err := checkKey(key); err != nil {
		return KeyResult{}, err
	}
	k := []byte(key)
	fp := KeyFingerprint(k)
	c.keyOps.callMu.Lock()
	defer c.keyOps.callMu.Unlock()
	if op == keyOpRemove {
		if err := c.checkNotPrimaryAnywhere(k); err != nil {
			return KeyResult{}, err
		}
	}
	if err := c.applyKeyOp(op, k); err != nil {
		return KeyResult{}, err
	}
	c.log.Info("encryption key "+keyOpName(op), "key", fp)
	replies, failed := c.keyRound(op, k)
	res := KeyResult{Key: fp, OK: []string{c.id}, Failed: failed}
	for id, r := range replies {
		if id == c.id {
			continue
		}
		if r.err != "" {
			res.Failed[id] = "refused: " + r.err
			continue
		}
		res.OK = append(res.OK, id)
	}
	slices.Sort(res.OK)
	if len(res.Failed) > 0 {
		c.log.Warn("encryption key "+keyOpName(op)+" did not reach every node", "key", fp, "failed", len(res.Failed))
	}
	return res, nil
}

// checkNotPrimaryAnywhere refuses to remove a key some node still seals
// with: removing it elsewhere would cut that node off.
func (c *Cluster) checkNotPrimaryAnywhere(key []byte) error {
	fp := KeyFingerprint(key)
	replies, _ := c.keyRound(keyOpList, nil)
	var users []string
	for id, r := range replies {
		if r.primary == fp {
			users = append(users, id)
		}
	}
	if len(users) == 0 {
		return nil
	}
	slices.Sort(users)
	return fmt.Errorf("%w: key %s is still the primary key of %d node(s) (%s); call use_key with the new key first",
		ErrInvalidArgument, fp, len(users), joinIDs(users))
}

func joinIDs(ids []string) string {
	const show = 5
	var b bytes.Buffer
	for i, id := range ids {
		if i == show {
			fmt.Fprintf(&b, ", and %d more", len(ids)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	return b.String()
}

func keyOpName(op byte) string {
	switch op {
	case keyOpInstall:
		return "installed"
	case keyOpUse:
		return "now primary"
	case keyOpRemove:
		return "removed"
	}
	return "listed"
}

// applyKeyOp changes this node's keyring.
func (c *Cluster) applyKeyOp(op byte, key []byte) error {
	kr := c.cfg.keyring
	if kr == nil {
		return fmt.Errorf("%w: this node has no encryption key", ErrNoEncryption)
	}
	c.keyOps.ringMu.Lock()
	defer c.keyOps.ringMu.Unlock()
	fp := KeyFingerprint(key)
	switch op {
	case keyOpInstall:
		if err := kr.AddKey(key); err != nil {
			return fmt.Errorf("%w: key %s: %v", ErrInvalidArgument, fp, err)
		}
	case keyOpUse:
		if !slices.ContainsFunc(kr.GetKeys(), func(k []byte) bool { return bytes.Equal(k, key) }) {
			return fmt.Errorf("%w: key %s is not installed on node %q; call install_key first", ErrInvalidArgument, fp, c.id)
		}
		if err := kr.UseKey(key); err != nil {
			return fmt.Errorf("%w: key %s: %v", ErrInvalidArgument, fp, err)
		}
	case keyOpRemove:
		return removeKey(kr, key, c.id)
	}
	return nil
}

// removeKey removes key from kr. memberlist's RemoveKey shifts the ring's
// shared slice in place, racing with goroutines still reading the slice
// GetKeys handed out, unless the key is the last element. So the keys after
// it are removed from the end first and added back afterwards; every call
// then removes a last element and the shared slice is never written.
func removeKey(kr *memberlist.Keyring, key []byte, self string) error {
	keys := kr.GetKeys()
	i := slices.IndexFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) })
	switch {
	case i < 0:
		return nil // not installed: removing is idempotent
	case i == 0:
		return fmt.Errorf("%w: key %s is the primary key of node %q; call use_key with the new key first", ErrInvalidArgument, KeyFingerprint(key), self)
	}
	tail := slices.Clone(keys[i+1:])
	for j := len(tail) - 1; j >= 0; j-- {
		if err := kr.RemoveKey(tail[j]); err != nil {
			return err
		}
	}
	if err := kr.RemoveKey(key); err != nil {
		return err
	}
	for _, k := range tail {
		if err := kr.AddKey(k); err != nil {
			return err
		}
	}
	return nil
}

// keyRound sends the request to every alive or suspect member and waits
// for their replies until keyRequestTimeout. It returns the replies by node
// id (this node's own state included, for keyOpList) and the failures.
func (c *Cluster) keyRound(op byte, key []byte) (map[string]keyReply, map[string]string) {
	replies := map[string]keyReply{c.id: c.localKeyReply("")}
	failed := map[string]string{}
	c.peers.mu.RLock()
	var targets []*peerInfo
	for id, p := range c.peers.nodes {
		if id != c.id && (p.state == StateAlive || p.state == StateSuspect) {
			targets = append(targets, p)
		}
	}
	c.peers.mu.RUnlock()
	if len(targets) == 0 {
		return replies, failed
	}
	deadline := time.Now().Add(keyRequestTimeout)
	type outcome struct {
		id     string
		reply  keyReply
		reason string
	}
	results := make(chan outcome, len(targets))
	for _, p := range targets {
		go func() {
			r, reason := c.keyRequest(p, op, key, deadline)
			results <- outcome{p.id, r, reason}
		}()
	}
	for range targets {
		o := <-results
		if o.reason != "" {
			failed[o.id] = o.reason
		} else {
			replies[o.id] = o.reply
		}
	}
	return replies, failed
}

// keyRequest sends one request to p and waits for its reply. It returns a
// reason instead when there was none.
func (c *Cluster) keyRequest(p *peerInfo, op byte, key []byte, deadline time.Time) (keyReply, string) {
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint64(idb[:])
	w := &keyWait{target: p.id, reply: make(chan keyReply, 1)}
	ko := &c.keyOps
	ko.mu.Lock()
	if ko.pending == nil {
		ko.pending = make(map[uint64]*keyWait)
	}
	ko.pending[id] = w
	ko.mu.Unlock()
	defer func() {
		ko.mu.Lock()
		delete(ko.pending, id)
		ko.mu.Unlock()
	}()

	body := []byte{op}
	body = binary.AppendUvarint(body, id)
	body = binary.AppendUvarint(body, uint64(time.Now().UnixNano()))
	body = appendString(body, string(key))
	env := encodeEnvelope(&envelope{msgType: msgKeyRequest, sender: c.id, payload: body}, c.tokenKey)
	node := &memberlist.Node{Name: p.id, Addr: p.ip, Port: p.port}
	var err error
	for attempt := 0; attempt < keySendAttempts; attempt++ {
		if err = c.ml.SendReliable(node, env); err == nil {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond << attempt):
		case <-c.stopCh:
			return keyReply{}, "this node stopped"
		}
	}
	if err != nil {
		return keyReply{}, fmt.Sprintf("unreachable: %v", err)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-w.reply:
		return r, ""
	case <-timer.C:
		return keyReply{}, fmt.Sprintf("no reply within %v", keyRequestTimeout)
	case <-c.stopCh:
		return keyReply{}, "this node stopped"
	}
}

// localKeyReply describes this node's keyring as a reply would.
func (c *Cluster) localKeyReply(errText string) keyReply {
	r := keyReply{err: errText}
	if kr := c.cfg.keyring; kr != nil {
		keys := kr.GetKeys()
		if len(keys) > 0 {
			r.primary = KeyFingerprint(keys[0])
		}
		for _, k := range keys {
			r.keys = append(r.keys, KeyFingerprint(k))
		}
	}
	return r
}

// handleKeyRequest applies a member's request and answers it. It runs on
// the goroutine of the connection that carried it.
func (c *Cluster) handleKeyRequest(e *envelope) {
	p := c.peers.get(e.sender)
	if p == nil || (p.state != StateAlive && p.state != StateSuspect) {
		c.stats.notMember.Add(1)
		c.log.Warn("key request from a node that is not a member ignored", "from", e.sender)
		return
	}
	r := reader{b: e.payload}
	op := r.bytes(1)
	id := r.uvarint()
	issued := r.uvarint()
	keyLen := r.uvarint()
	if keyLen > 32 {
		keyLen = uint64(len(r.b)) + 1 // refused by bytes below
	}
	key := r.bytes(int(keyLen))
	if r.err != nil || len(op) != 1 || op[0] < keyOpInstall || op[0] > keyOpList {
		c.stats.decodeErrors.Add(1)
		return
	}
	if !c.freshKeyRequest(id, issued) {
		c.stats.authFailures.Add(1)
		c.log.Warn("stale or replayed key request ignored", "from", e.sender)
		return
	}
	var errText string
	if op[0] != keyOpList {
		if err := c.applyKeyOp(op[0], key); err != nil {
			errText = err.Error()
		} else {
			c.log.Info("encryption key "+keyOpName(op[0]), "key", KeyFingerprint(key), "by", e.sender)
		}
	}
	body := binary.AppendUvarint(nil, id)
	body = encodeKeyReply(body, c.localKeyReply(errText))
	env := encodeEnvelope(&envelope{msgType: msgKeyReply, sender: c.id, payload: body}, c.tokenKey)
	if err := c.ml.SendReliable(&memberlist.Node{Name: p.id, Addr: p.ip, Port: p.port}, env); err != nil {
		c.log.Warn("key reply not sent", "to", p.id, "err", err)
	}
}

// freshKeyRequest accepts a request id once, and only near its issue time.
func (c *Cluster) freshKeyRequest(id, issued uint64) bool {
	now := time.Now()
	age := now.Sub(time.Unix(0, int64(issued)))
	if issued > 1<<63-1 || age > keyRequestMaxAge || age < -keyRequestMaxAge {
		return false
	}
	ko := &c.keyOps
	ko.mu.Lock()
	defer ko.mu.Unlock()
	if ko.seen == nil {
		ko.seen = make(map[uint64]time.Time)
	}
	maps.DeleteFunc(ko.seen, func(_ uint64, t time.Time) bool { return now.Sub(t) > 2*keyRequestMaxAge })
	if _, dup := ko.seen[id]; dup {
		return false
	}
	ko.seen[id] = now
	return true
}

// encodeKeyReply appends a reply's outcome and fingerprints.
func encodeKeyReply(dst []byte, r keyReply) []byte {
	dst = appendString(dst, r.err)
	dst = appendString(dst, r.primary)
	dst = binary.AppendUvarint(dst, uint64(len(r.keys)))
	for _, k := range r.keys {
		dst = appendString(dst, k)
	}
	return dst
}

// handleKeyReply hands a reply to the request waiting for it.
func (c *Cluster) handleKeyReply(e *envelope) {
	r := reader{b: e.payload}
	id := r.uvarint()
	rep := keyReply{err: r.string(), primary: r.string()}
	n := r.uvarint()
	for i := uint64(0); i < n && i < 256 && r.err == nil; i++ {
		rep.keys = append(rep.keys, r.string())
	}
	if r.err != nil {
		c.stats.decodeErrors.Add(1)
		return
	}
	c.keyOps.mu.Lock()
	w := c.keyOps.pending[id]
	c.keyOps.mu.Unlock()
	if w == nil || w.target != e.sender {
		return // late, or not from the node asked
	}
	select {
	case w.reply <- rep:
	default:
	}
}
