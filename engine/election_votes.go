package engine

import (
	"encoding/binary"
	"time"
)

// Internal message types of leader election; below MinUserMessageType.
const (
	msgElectClaim  = 42 // key, seq, lease ms, term, ms left as leader (0: not leader)
	msgElectAck    = 43 // key, seq, vote status, voter's highest term, voter's electorate size
	msgElectResign = 44 // key, seq, term of the claim given up
)

// Answers to a claim.
const (
	voteGranted   byte = 0
	voteBusy      byte = 1 // another holder's lease has not run out
	voteTermTaken byte = 2 // the term is below the voter's highest, or granted to another
	voteWaiting   byte = 3 // the voter has just started and grants nothing for one lease
)

// grant is this node's vote in one election.
type grant struct {
	holder     string    // "" when free
	until      time.Time // end of the holder's lease
	term       uint64    // highest term granted
	termHolder string    // who that term was granted to
	since      time.Time // first claim heard: no vote before since plus its lease
}

// vote answers who's claim for term with lease d. It grants when the
// vote is free (or already who's), term is at least the highest granted
// and, if equal, was granted to who. It returns the answer and the
// highest term granted afterwards.
func (c *Cluster) vote(key, who string, term uint64, d time.Duration, now time.Time) (byte, uint64) {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	if c.x.grants == nil {
		c.x.grants = map[string]*grant{}
	}
	g := c.x.grants[key]
	if g == nil {
		// A node restarted with the same id has forgotten the votes it gave
		// before: give none until any lease it may have granted has run out.
		g = &grant{since: now}
		c.x.grants[key] = g
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
func (c *Cluster) ballotTerm(key string) uint64 {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	if g := c.x.grants[key]; g != nil {
		return g.term
	}
	return 0
}

// releaseVote frees the vote in election key if who holds it; the term
// stays granted.
func (c *Cluster) releaseVote(key, who string) {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	if g := c.x.grants[key]; g != nil && g.holder == who {
		g.holder = ""
	}
}

// electionsFor returns the running elections of key on this node.
func (c *Cluster) electionsFor(key string) []*LeaderElection {
	c.x.voteMu.Lock()
	defer c.x.voteMu.Unlock()
	return append([]*LeaderElection(nil), c.x.elections[key]...)
}

// maxClaimTimeout bounds the lease a claim can ask for.
const maxClaimTimeout = time.Hour

// receiveElection handles claims, votes and resignations.
func (c *Cluster) receiveElection(e *envelope) {
	p := c.peers.get(e.sender)
	if p == nil || e.sender == c.id {
		return // not a member
	}
	r := reader{b: e.payload}
	key := r.string()
	switch e.msgType {
	case msgElectClaim:
		seq := r.uvarint()
		ms := r.uvarint()
		term := r.uvarint()
		left := r.uvarint()
		if r.err != nil || ms == 0 || ms > uint64(maxClaimTimeout/time.Millisecond) || term == 0 || left > ms {
			c.stats.decodeErrors.Add(1)
			return
		}
		d := time.Duration(ms) * time.Millisecond
		status, highest := c.vote(key, e.sender, term, d, time.Now())
		els := c.electionsFor(key)
		size := 0
		for _, el := range els {
			size = max(size, el.electorateSize())
		}
		ack := appendString(nil, key)
		ack = binary.AppendUvarint(ack, seq)
		ack = append(ack, status)
		ack = binary.AppendUvarint(ack, highest)
		ack = binary.AppendUvarint(ack, uint64(size))
		c.sendControl(p, msgElectAck, ack)
		for _, el := range els {
			el.observeClaim(e.sender, seq, term, time.Duration(left)*time.Millisecond)
		}
	case msgElectAck:
		seq := r.uvarint()
		status := r.bytes(1)
		term := r.uvarint()
		size := r.uvarint()
		if r.err != nil || size > 1<<20 {
			c.stats.decodeErrors.Add(1)
			return
		}
		for _, el := range c.electionsFor(key) {
			el.onAck(e.sender, seq, status[0], term, int(size))
		}
	case msgElectResign:
		seq := r.uvarint()
		term := r.uvarint()
		if r.err != nil {
			c.stats.decodeErrors.Add(1)
			return
		}
		c.releaseVote(key, e.sender)
		for _, el := range c.electionsFor(key) {
			el.observeResign(e.sender, seq, term)
		}
	}
}

// sendControl sends a small internal message to p as one datagram; it is
// repeated by its protocol, so a loss only delays.
func (c *Cluster) sendControl(p *peerInfo, msgType int, body []byte) {
	if !c.running() || c.left.Load() {
		return
	}
	env := encodeEnvelope(&envelope{msgType: msgType, sender: c.id, payload: body}, c.tokenKey)
	if err := c.ml.SendBestEffort(p.mlNode(), env); err != nil {
		c.log.Debug("control message not sent", "peer", p.id, "err", err)
	}
}

// sendControlAll sends a control message to every alive peer.
func (c *Cluster) sendControlAll(msgType int, body []byte) {
	for _, p := range c.alivePeers(nil) {
		c.sendControl(p, msgType, body)
	}
}
