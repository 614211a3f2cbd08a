package election

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/wirefmt"
)

// Channel types of leader election (engine feature channels).
const (
	chanClaim  = 64 // key, seq, lease ms, term, ms left as leader (0: not leader)
	chanAck    = 65 // key, seq, vote status, voter's highest term, voter's electorate size
	chanResign = 66 // key, seq, term of the claim given up
)

// Answers to a claim.
const (
	voteGranted   byte = 0
	voteBusy      byte = 1 // another holder's lease has not run out
	voteTermTaken byte = 2 // the term is below the voter's highest, or granted to another
	voteWaiting   byte = 3 // the voter has just started and grants nothing for one lease
)

// maxClaimTimeout bounds the lease a claim can ask for.
const maxClaimTimeout = time.Hour

var errMalformed = errors.New("malformed election message")

// grant is this node's vote in one election.
type grant struct {
	holder     string    // "" when free
	until      time.Time // end of the holder's lease
	term       uint64    // highest term granted
	termHolder string    // who that term was granted to
	since      time.Time // first claim heard: no vote before since plus its lease
}

// voter is one node's part in every election of its cluster: its vote
// per election key, and the elections this node runs, which the channels
// hand claims, answers and resignations to. It lives with the node
// (Cluster.Extension) from Enable on, whether or not the node runs an
// election itself.
type voter struct {
	c                     *engine.Cluster
	claims, acks, resigns *engine.Channel
	mu                    sync.Mutex
	grants                map[string]*grant
	elections             map[string][]*Election
}

// voterKey is the Cluster.Extension key of the voter.
type voterKey struct{}

// Enable makes c a voter in the leader elections of its cluster: it
// answers claims and resignations from then on, whether or not it runs an
// election itself. Every node of a cluster that runs elections must be
// enabled, or the majorities are counted without it: the Scriptling
// binding enables every node it creates. Enabling twice does nothing.
func Enable(c *engine.Cluster) {
	voterOf(c)
}

// voterOf returns c's voter, opening its channels on first use.
func voterOf(c *engine.Cluster) *voter {
	return c.Extension(voterKey{}, func() any {
		v := &voter{c: c, grants: map[string]*grant{}, elections: map[string][]*Election{}}
		v.claims = mustOpen(c, chanClaim, v.receiveClaim)
		v.acks = mustOpen(c, chanAck, v.receiveAck)
		v.resigns = mustOpen(c, chanResign, v.receiveResign)
		return v
	}).(*voter)
}

// mustOpen opens one of the election's channels; only a second opener of
// the same types can make it fail, and this package is the only one.
func mustOpen(c *engine.Cluster, t int, fn engine.ChannelHandler) *engine.Channel {
	ch, err := c.OpenChannel(t, fn)
	if err != nil {
		panic("election: " + err.Error())
	}
	return ch
}

// vote answers who's claim for term with lease d. It grants when the
// vote is free (or already who's), term is at least the highest granted
// and, if equal, was granted to who. It returns the answer and the
// highest term granted afterwards.
func (v *voter) vote(key, who string, term uint64, d time.Duration, now time.Time) (byte, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	g := v.grants[key]
	if g == nil {
		// A node restarted with the same id has forgotten the votes it gave
		// before: give none until any lease it may have granted has run out.
		g = &grant{since: now}
		v.grants[key] = g
	}
	switch {
	case now.Before(g.since.Add(d)):
		return voteWaiting, g.term
	case term < g.term || term == g.term && g.termHolder != who:
		return voteTermTaken, g.term
	case g.holder != "" && g.holder != who && now.Before(g.until):
		return voteBusy, g.term
	}
	g.holder, g.until, g.term, g.termHolder = who, now.Add(d), term, who
	return voteGranted, g.term
}

// ballotTerm is the highest term this node has granted in election key.
func (v *voter) ballotTerm(key string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if g := v.grants[key]; g != nil {
		return g.term
	}
	return 0
}

// releaseVote frees the vote in election key if who holds it; the term
// stays granted.
func (v *voter) releaseVote(key, who string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if g := v.grants[key]; g != nil && g.holder == who {
		g.holder = ""
	}
}

// add and remove register a running election of this node.
func (v *voter) add(e *Election) {
	v.mu.Lock()
	v.elections[e.key] = append(v.elections[e.key], e)
	v.mu.Unlock()
}

func (v *voter) remove(e *Election) {
	v.mu.Lock()
	v.elections[e.key] = slices.DeleteFunc(v.elections[e.key], func(o *Election) bool { return o == e })
	v.mu.Unlock()
}

// electionsFor returns the running elections of key on this node.
func (v *voter) electionsFor(key string) []*Election {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.elections[key])
}

// receiveClaim votes on a claim, answers it, and tells this node's
// elections of the same key.
func (v *voter) receiveClaim(from string, body []byte) error {
	r := wirefmt.Reader{B: body}
	key := r.Str()
	seq := r.Uvarint()
	ms := r.Uvarint()
	term := r.Uvarint()
	left := r.Uvarint()
	if r.Err != nil || ms == 0 || ms > uint64(maxClaimTimeout/time.Millisecond) || term == 0 || left > ms {
		return errMalformed
	}
	d := time.Duration(ms) * time.Millisecond
	status, highest := v.vote(key, from, term, d, time.Now())
	els := v.electionsFor(key)
	size := 0
	for _, el := range els {
		size = max(size, el.electorateSize())
	}
	ack := wirefmt.AppendString(nil, key)
	ack = binary.AppendUvarint(ack, seq)
	ack = append(ack, status)
	ack = binary.AppendUvarint(ack, highest)
	ack = binary.AppendUvarint(ack, uint64(size))
	// Lost answers are made up for by the next claim.
	_ = v.acks.SendTo(from, ack)
	for _, el := range els {
		el.observeClaim(from, seq, term, time.Duration(left)*time.Millisecond)
	}
	return nil
}

// receiveAck hands a voter's answer to this node's elections of its key.
func (v *voter) receiveAck(from string, body []byte) error {
	r := wirefmt.Reader{B: body}
	key := r.Str()
	seq := r.Uvarint()
	status := r.Bytes(1)
	term := r.Uvarint()
	size := r.Uvarint()
	if r.Err != nil || size > 1<<20 {
		return errMalformed
	}
	for _, el := range v.electionsFor(key) {
		el.onAck(from, seq, status[0], term, int(size))
	}
	return nil
}

// receiveResign frees the vote the sender held and tells this node's
// elections.
func (v *voter) receiveResign(from string, body []byte) error {
	r := wirefmt.Reader{B: body}
	key := r.Str()
	seq := r.Uvarint()
	term := r.Uvarint()
	if r.Err != nil {
		return errMalformed
	}
	v.releaseVote(key, from)
	for _, el := range v.electionsFor(key) {
		el.observeResign(from, seq, term)
	}
	return nil
}
