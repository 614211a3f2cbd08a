package netlab

import (
	"testing"
	"time"
)

// TestPause: the leader is SIGSTOPped until its lease has run out and a
// newer term leads elsewhere, then SIGCONTed. From its first status after
// SIGCONT on, it must never believe it leads in its old term (node.py reads
// is_leader() as a script would before a side effect): a paused process is
// the classic lease breaker.
func TestPause(t *testing.T) {
	const hosts = 5
	l, leader, term := electedLab(t, hosts)
	if term == nil {
		t.Fatalf("%s leads but the election reports no term (election.get_term()): nothing can fence its side effects", leader.Name)
	}
	old := *term
	others := without(l.Hosts, leader)

	pausedAt := time.Now()
	leader.Pause()
	newer := l.waitFor(time.Minute, "a newer term to lead elsewhere", func() bool {
		for _, h := range others {
			if s, ok := h.Last(); ok && s.IsLeader && s.Term != nil && *s.Term > old {
				return true
			}
		}
		return false
	})
	// Past the lease by a margin, however quickly the others took over.
	l.waitFor(time.Minute, "the pause to outlast the lease twice", func() bool {
		return time.Since(pausedAt) > 2*labElection.LeaderTimeout
	})
	resumedAt := time.Now()
	paused := resumedAt.Sub(pausedAt)
	leader.Resume()

	var after []Status
	l.waitFor(30*time.Second, leader.Name+" to report 20 times after SIGCONT", func() bool {
		after = after[:0]
		for _, s := range leader.obs.All() {
			if !s.At().Before(resumedAt) {
				after = append(after, s)
			}
		}
		return len(after) >= 20
	})
	stale := 0
	for _, s := range after {
		if s.IsLeader && (s.Term == nil || *s.Term <= old) {
			stale++
			t.Errorf("%s at %s (seq %d) believes it leads in term %s, after term > %d led elsewhere",
				leader.Name, s.At().Format(time.StampMilli), s.Seq, termText(s.Term), old)
		}
	}
	first := after[0]
	doubles, _ := doubleLeaders(l.Hosts)
	if len(doubles) > 0 {
		t.Errorf("%d sampled instants at which two hosts believed they led in the same term:%s",
			len(doubles), describeDoubles(doubles))
	}
	t.Logf("SUMMARY pause: leader %s (term %d) stopped %v; a newer term led elsewhere %v into the pause; first status after SIGCONT: is_leader=%v term=%s leader=%v; stale leadership beliefs after SIGCONT: %d; same-term double leaderships: %d",
		leader.Name, old, paused.Round(time.Millisecond), newer.Round(time.Millisecond),
		first.IsLeader, termText(first.Term), derefOr(first.Leader, "none"), stale, len(doubles))
}

func derefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
