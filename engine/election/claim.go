package election

import (
	"encoding/binary"
	"slices"
	"sort"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/wirefmt"
)

// tick refreshes the electorate, claims or resigns, and reports changes.
func (e *Election) tick() {
	c := e.c
	now := time.Now()
	nodes := c.Nodes()
	e.mu.Lock()
	alive := e.refreshElectorateLocked(nodes, now)
	// A leader renews while its votes hold, even when the failure detector
	// briefly marks a voter suspect: the votes are the evidence that
	// counts. Any other node claims when it sees a majority and does not
	// defer.
	majority := len(alive)*2 > e.sizeLocked() && len(alive) >= e.minSize
	want := slices.Contains(alive, e.id) && c.CanSend() &&
		(e.leaderLocked(now) || majority && !e.deferLocked(alive, now))
	send := func() {}
	if want {
		send = e.claimLocked(now)
	} else if e.claiming {
		send = e.stopClaimingLocked()
	}
	e.updateLocked(now)
	e.mu.Unlock()
	send()
}

// deferLocked reports whether this node, not being leader, should leave
// the claim to another: a leader it hears of, a lower alive id that claims,
// in the first leader timeout after Start any lower alive id, and after
// the known leader went away one check interval per lower alive id (capped
// at a leader timeout), so that the lowest id taking part claims first and
// the others hear it before they would claim: failover goes to the lowest
// id too, rather than to whichever claim reached the voters first.
func (e *Election) deferLocked(alive []string, now time.Time) bool {
	if id, _ := e.currentLocked(now); id != "" && id != e.id {
		return true
	}
	lower := 0
	for _, id := range alive {
		if id >= e.id {
			continue
		}
		if t, ok := e.heard[id]; ok && now.Sub(t) < e.timeout || now.Sub(e.started) < e.timeout {
			return true
		}
		lower++
	}
	return now.Sub(e.vacantSince) < min(time.Duration(lower)*e.check, e.timeout)
}

// claimLocked sends a claim round, starting a new term when this node was
// not claiming or learnt of a newer term, and returns the function that
// sends it.
func (e *Election) claimLocked(now time.Time) func() {
	if !e.claiming || e.stale || e.behind && !e.leaderLocked(now) {
		e.term = max(e.highest, e.v.ballotTerm(e.key)) + 1
		e.highest = e.term
		e.claiming, e.stale, e.behind = true, false, false
		clear(e.sentAt)
		clear(e.acks)
		e.selfVote = time.Time{}
	}
	e.seq++
	e.sentAt[e.seq] = now
	for s, t := range e.sentAt {
		if now.Sub(t) > e.timeout {
			delete(e.sentAt, s)
		}
	}
	status, voterTerm := e.v.vote(e.key, e.id, e.term, e.timeout, now)
	e.voteResultLocked(e.id, now, now, status, voterTerm)
	body := wirefmt.AppendString(nil, e.key)
	body = binary.AppendUvarint(body, e.seq)
	body = binary.AppendUvarint(body, uint64(e.timeout/time.Millisecond))
	body = binary.AppendUvarint(body, e.term)
	body = binary.AppendUvarint(body, uint64(e.leftLocked(now)/time.Millisecond))
	return func() { e.v.claims.SendToAll(body) }
}

// voteResultLocked records one voter's answer to a claim of the current
// term sent at sentAt.
func (e *Election) voteResultLocked(from string, sentAt, now time.Time, status byte, voterTerm uint64) {
	e.learnLocked(voterTerm, now)
	switch {
	case status == voteGranted && from == e.id:
		e.selfVote = sentAt
	case status == voteGranted:
		if sentAt.After(e.acks[from]) {
			e.acks[from] = sentAt
		}
	case status == voteTermTaken && voterTerm >= e.term:
		// This voter is lost to our term. A leader keeps its term while
		// the others still give it a majority (stepping down for one voter
		// that moved on would only let a stale claimant disrupt it); it
		// takes a new term once it has lost that majority.
		if e.leaderLocked(now) {
			e.behind = true
		} else {
			e.stale = true
		}
	}
}

// learnLocked notes a term seen in a claim or an answer. A claimant that
// is not leader gives up a term below it, as in Raft, so it never wins a
// term lower than one it has reported.
func (e *Election) learnLocked(term uint64, now time.Time) {
	if term <= e.highest {
		return
	}
	e.highest = term
	if e.claiming && term > e.term && !e.leaderLocked(now) {
		e.stale = true
	}
}

// stopClaimingLocked gives up a claim and returns the function that
// tells the voters.
func (e *Election) stopClaimingLocked() func() {
	if !e.claiming {
		return func() {}
	}
	e.claiming = false
	clear(e.acks)
	e.selfVote = time.Time{}
	e.v.releaseVote(e.key, e.id)
	e.seq++
	body := wirefmt.AppendString(nil, e.key)
	body = binary.AppendUvarint(body, e.seq)
	body = binary.AppendUvarint(body, e.term)
	return func() { e.v.resigns.SendToAll(body) }
}

// leaderLocked reports whether this node holds a majority of votes for
// its term now.
func (e *Election) leaderLocked(now time.Time) bool {
	return now.Before(e.leaseEndLocked())
}

// leaseEndLocked is when the majority of votes for this node's term runs
// out, zero when it has none.
func (e *Election) leaseEndLocked() time.Time {
	if !e.claiming || !e.running || e.stale {
		return time.Time{}
	}
	var times []time.Time
	if !e.selfVote.IsZero() {
		times = append(times, e.selfVote)
	}
	for id, t := range e.acks {
		if _, ok := e.known[id]; ok && id != e.id {
			times = append(times, t)
		}
	}
	need := max(e.sizeLocked()/2+1, e.minSize)
	if len(times) < need {
		return time.Time{}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].After(times[j]) })
	return times[need-1].Add(e.timeout)
}

// leftLocked is how long this node stays leader if no further vote
// arrives; 0 when it is not leader.
func (e *Election) leftLocked(now time.Time) time.Duration {
	end := e.leaseEndLocked()
	if !now.Before(end) {
		return 0
	}
	return end.Sub(now)
}

// currentLocked is the leader as known here now and its term; "" for none.
func (e *Election) currentLocked(now time.Time) (string, uint64) {
	if e.leaderLocked(now) {
		return e.id, e.term
	}
	if !e.running || e.obsLeader == "" || e.obsLeader == e.id || !now.Before(e.obsUntil) {
		return "", 0
	}
	// The leader's own count bounds obsUntil, so a leader that failed is
	// gone within a lease; a suspect leader that still sends claims stays.
	if n, ok := e.c.GetNode(e.obsLeader); !ok || n.State == string(engine.StateLeaving) {
		return "", 0
	}
	return e.obsLeader, e.obsTerm
}

// onAck records a voter's answer to one of our claims.
func (e *Election) onAck(from string, seq uint64, status byte, voterTerm uint64, size int) {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return
	}
	now := time.Now()
	e.learnLocked(voterTerm, now)
	if _, ok := e.known[from]; ok {
		e.peerSize[from] = sizeSeen{size: size, at: now}
	}
	sentAt, ok := e.sentAt[seq]
	if !e.claiming || !ok {
		e.updateLocked(now)
		e.mu.Unlock()
		return
	}
	was := e.lastLeader == e.id
	e.voteResultLocked(from, sentAt, now, status, voterTerm)
	e.updateLocked(now)
	send := func() {}
	if !was && e.lastLeader == e.id {
		send = e.claimLocked(now) // announce at once rather than next tick
	}
	e.mu.Unlock()
	send()
}

// observeClaim notes claim seq of term from another node. left is how
// long the sender stays leader by its own count, 0 if it is not leader:
// its leadership is taken as known here until that runs out. Claims can
// arrive out of order (two goroutines send them), so one older than the
// sender's latest claim or resignation seen here does not change the
// known leader.
func (e *Election) observeClaim(from string, seq, term uint64, left time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return
	}
	now := time.Now()
	e.learnLocked(term, now)
	e.heard[from] = now
	o := claimOrder{term, seq}
	if !e.newerLocked(from, o) {
		return
	}
	switch {
	case left > 0:
		valid := e.obsLeader != "" && now.Before(e.obsUntil)
		if !valid || from == e.obsLeader || term > e.obsTerm {
			e.obsLeader, e.obsTerm, e.obsUntil = from, term, now.Add(left)
		}
		if e.claiming && term >= e.term {
			e.stale = true // another node leads in a term as new as ours
		}
	case from == e.obsLeader:
		e.obsLeader = ""
	}
	e.updateLocked(now)
}

// claimOrder orders one sender's claims: by term, then by sequence.
type claimOrder struct{ term, seq uint64 }

// newerLocked records o as from's latest message if it is newer than
// the latest seen, and reports whether it was.
func (e *Election) newerLocked(from string, o claimOrder) bool {
	last, ok := e.latest[from]
	if ok && (o.term < last.term || o.term == last.term && o.seq <= last.seq) {
		return false
	}
	e.latest[from] = o
	return true
}

// observeResign notes that a node gave up its claim after its claim seq
// of term.
func (e *Election) observeResign(from string, seq, term uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running {
		return
	}
	delete(e.heard, from)
	if !e.newerLocked(from, claimOrder{term, seq}) {
		return
	}
	if from == e.obsLeader {
		e.obsLeader = ""
	}
	e.updateLocked(time.Now())
}
