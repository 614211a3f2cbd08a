package engine

import (
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// delegate implements memberlist's Delegate, AliveDelegate, MergeDelegate
// and ConflictDelegate. memberlist calls these concurrently, some while
// holding its node lock, so none of them blocks or calls back into
// memberlist; work that may wait is handed to the engine's goroutines.
type delegate struct {
	c *Cluster
}

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.AliveDelegate    = (*delegate)(nil)
	_ memberlist.MergeDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
)

// NodeMeta returns the node header; validate guaranteed it fits limit.
func (d *delegate) NodeMeta(limit int) []byte {
	b := d.c.localHeader().encode(nil)
	if len(b) > limit {
		// Unreachable given validate, but memberlist panics on oversize.
		return nil
	}
	return b
}

// NotifyMsg receives envelopes (user messages, metadata). buf is only valid
// during the call, so it is copied before anything keeps it. memberlist
// delivers packets from anyone, from inside Create until well after
// Shutdown; outside stateRunning the node has no members, so whatever
// arrives is dropped and counted as from a non-member.
func (d *delegate) NotifyMsg(buf []byte) {
	if !d.c.running() {
		d.c.stats.notMember.Add(1)
		return
	}
	d.c.receive(append([]byte(nil), buf...), false)
}

// GetBroadcasts hands memberlist our queued metadata broadcasts.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	if !d.c.running() || d.c.bcast == nil {
		return nil
	}
	return d.c.bcast.GetBroadcasts(overhead, limit)
}

// LocalState is our side of a push/pull: a digest of the metadata entries
// we hold (owner, version), never the maps themselves, so that a push/pull
// stays far under memberlist's 20 MiB limit (metadata_digest.go).
func (d *delegate) LocalState(join bool) []byte {
	if !d.c.running() {
		return nil
	}
	return d.c.encodeDigest()
}

// MergeRemoteState notes what the peer holds newer than we do; the entries
// follow over the reliable streams.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	if !d.c.running() {
		return
	}
	d.c.mergeRemoteState(buf)
}

// NotifyAlive vets every alive message: peers with a bad token proof or an
// incompatible app version are ignored and so never become members. An
// alive message about a node held as suspect may clear the suspicion,
// which memberlist announces with no event: the peer loop checks it once
// memberlist has applied the message (peerwatch.go).
func (d *delegate) NotifyAlive(peer *memberlist.Node) error {
	if peer.Name == d.c.id {
		return nil
	}
	if err := d.c.checkPeer(peer); err != nil {
		return err
	}
	if p := d.c.peers.get(peer.Name); p != nil && p.state == StateSuspect {
		d.c.peers.recheck.Store(true)
		d.c.peers.wake()
	}
	return nil
}

// NotifyMerge vets the nodes learnt in a push/pull. On the joining side the
// error aborts the join and ends up in Join's error text, so it is worded
// for a person.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if p.Name == d.c.id || p.State != memberlist.StateAlive {
			continue
		}
		if err := d.c.checkPeer(p); err != nil {
			return err
		}
	}
	return nil
}

// NotifyConflict reports a second node using our id (or two peers sharing
// one); memberlist silently keeps the first, so this is the only trace.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.c.log.Warn("node id conflict: two nodes use the same id; the newcomer is ignored",
		"id", existing.Name, "existing", joinHostPort(existing.Addr.String(), existing.Port),
		"other", joinHostPort(other.Addr.String(), other.Port))
}

// errRefused marks peers refused by checkPeer.
var errRefused = errors.New("peer refused")

// checkPeer applies the engine's admission rules to a peer's header. The
// rules are symmetric (both sides apply them), so the joining side refuses
// the same peers that would refuse it and can explain why.
func (c *Cluster) checkPeer(p *memberlist.Node) error {
	// Built only for a refusal: every alive message, and every node of
	// every push/pull, is checked here.
	where := func() string { return fmt.Sprintf("node %q at %s", p.Name, joinHostPort(p.Addr.String(), p.Port)) }
	h, err := decodeHeader(p.Meta)
	if err != nil {
		return fmt.Errorf("%w: %s is not a compatible cluster node (no valid node header)", errRefused, where())
	}
	switch {
	case c.tokenKey != nil && h.proof == nil:
		c.stats.authFailures.Add(1)
		return fmt.Errorf("%w: %s has no bearer token, this node requires one", errRefused, where())
	case c.tokenKey == nil && h.proof != nil:
		return fmt.Errorf("%w: %s requires a bearer token, this node has none", errRefused, where())
	case c.tokenKey != nil && !hmac.Equal(h.proof, joinProof(c.tokenKey, p.Name)):
		c.stats.authFailures.Add(1)
		return fmt.Errorf("%w: %s has a different bearer token", errRefused, where())
	}
	if !compatibleVersions(h.appVersion, c.cfg.AppVersion) {
		return fmt.Errorf("%w: %s has incompatible app version %q (local %q)", errRefused, where(), h.appVersion, c.cfg.AppVersion)
	}
	return nil
}
