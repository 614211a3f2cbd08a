package netlab

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// electionConfig is nodeConfig with the lab's leader election.
func electionConfig(h *Host, seeds []*Host) NodeConfig {
	cfg := nodeConfig(h, seeds)
	e := labElection
	cfg.Election = &e
	return cfg
}

// agreedLeader returns the leader every host names, with its term, once
// all of them name the same one and it reports itself leading.
func agreedLeader(hosts []*Host) (leader *Host, term *int64, ok bool) {
	var name string
	for _, h := range hosts {
		s, got := h.Last()
		if !got || s.Leader == nil || (name != "" && *s.Leader != name) {
			return nil, nil, false
		}
		name = *s.Leader
	}
	for _, h := range hosts {
		if h.Name == name {
			s, _ := h.Last()
			if s.IsLeader {
				return h, s.Term, true
			}
		}
	}
	return nil, nil, false
}

// termText prints a term, or "none" when the election reports none.
func termText(t *int64) string {
	if t == nil {
		return "none"
	}
	return fmt.Sprint(*t)
}

// doubleLeader is an instant at which several hosts believed they led in
// the same term.
type doubleLeader struct {
	at    time.Time
	term  string
	hosts []string
}

// doubleLeaders replays every status of the hosts in time order, keeping
// each host's latest belief, and returns the instants at which two or more
// hosts believed they led in the same term (a missing term counts as one
// term: without terms nothing tells two leaderships apart). It also returns
// the most hosts that believed they led at one instant, whatever the term.
func doubleLeaders(hosts []*Host) (found []doubleLeader, mostAtOnce int) {
	var all []Status
	for _, h := range hosts {
		all = append(all, h.obs.All()...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].T < all[j].T })
	belief := map[string]Status{}
	for _, s := range all {
		belief[s.ID] = s
		byTerm := map[string][]string{}
		leading := 0
		for id, b := range belief {
			if b.IsLeader {
				leading++
				byTerm[termText(b.Term)] = append(byTerm[termText(b.Term)], id)
			}
		}
		mostAtOnce = max(mostAtOnce, leading)
		for term, ids := range byTerm {
			if len(ids) > 1 {
				slices.Sort(ids)
				found = append(found, doubleLeader{s.At(), term, ids})
			}
		}
	}
	return found, mostAtOnce
}

// describeDoubles summarises double leaderships: the first few instants and
// the distinct (term, hosts) pairs.
func describeDoubles(ds []doubleLeader) string {
	seen := map[string]time.Time{}
	var keys []string
	for _, d := range ds {
		k := "term " + d.term + ": " + strings.Join(d.hosts, ",")
		if _, ok := seen[k]; !ok {
			seen[k] = d.at
			keys = append(keys, k)
		}
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n\t%s (first at %s)", k, seen[k].Format(time.StampMilli))
	}
	return b.String()
}

// electedLab starts a lab of k hosts that all run the election and waits
// until they agree on a leader; it returns the lab, the leader and its term
// (nil when the election reports none).
func electedLab(t *testing.T, k int) (*Lab, *Host, *int64) {
	t.Helper()
	l := newLab(t, k)
	configure := func(h *Host) NodeConfig { return electionConfig(h, l.Hosts) }
	startCluster(l, l.Hosts, configure, time.Minute)
	l.waitFor(30*time.Second, "a leader all hosts agree on", func() bool { _, _, ok := agreedLeader(l.Hosts); return ok })
	leader, term, _ := agreedLeader(l.Hosts)
	return l, leader, term
}
