package netlab

import (
	"strings"
	"testing"
	"time"
)

// TestJudgeDelivery: the scenario's checker finds each kind of violation
// and accepts what the contract allows at a kill. It needs no lab.
func TestJudgeDelivery(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	killAt := t0.Add(10 * time.Second)
	sent := func(outcomes ...string) []deliveryLine {
		var out []deliveryLine
		for i, o := range outcomes {
			n := i
			out = append(out, deliveryLine{N: &n, O: o, T: float64(t0.Add(time.Duration(i)*time.Second).UnixNano()) / 1e9})
		}
		return out
	}
	got := func(pairs ...[2]int) []deliveryLine {
		var out []deliveryLine
		for _, p := range pairs {
			n := p[0]
			out = append(out, deliveryLine{H: &n, R: p[1]})
		}
		return out
	}
	cases := []struct {
		name     string
		outcomes []deliveryLine
		handled  []deliveryLine
		problem  string // "" for none
		check    func(deliveryVerdict) bool
	}{
		{"all handled", sent("confirmed", "unconfirmed", "confirmed"), got([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1}), "",
			func(v deliveryVerdict) bool { return v.handledOnce == 3 && v.confirmed == 2 && v.unconfirmed == 1 }},
		{"duplicate", sent("confirmed", "confirmed"), got([2]int{0, 1}, [2]int{1, 1}, [2]int{1, 2}), "handled twice",
			func(v deliveryVerdict) bool { return v.duplicates == 1 }},
		{"out of order", sent("confirmed", "confirmed"), got([2]int{1, 1}, [2]int{0, 1}), "handled 0 after 1",
			func(v deliveryVerdict) bool { return v.disorder == 1 }},
		{"confirmed and lost", sent("confirmed", "confirmed", "confirmed"), got([2]int{0, 1}, [2]int{2, 1}), "was never handled",
			func(v deliveryVerdict) bool { return v.lostUnreported == 1 }},
		{"unconfirmed and lost without a restart", sent("confirmed", "unconfirmed", "confirmed"), got([2]int{0, 1}, [2]int{2, 1}),
			"did not restart", func(v deliveryVerdict) bool { return v.reportedLost == 1 }},
		{"never sent", sent("confirmed"), got([2]int{0, 1}, [2]int{5, 1}), "never sent", nil},
		{"lost at the kill", sent("confirmed", "confirmed", "unconfirmed", "failed", "confirmed"),
			got([2]int{0, 1}, [2]int{4, 2}), "",
			func(v deliveryVerdict) bool { return v.lostInQueue == 1 && v.reportedLost == 2 && v.failed == 1 }},
		{"confirmed after the kill and lost", sent(strings.Fields(strings.Repeat("confirmed ", 12))...),
			got([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1}, [2]int{3, 1}, [2]int{4, 1}, [2]int{5, 1}, [2]int{6, 1},
				[2]int{7, 1}, [2]int{8, 1}, [2]int{9, 1}, [2]int{11, 2}), "was never handled",
			func(v deliveryVerdict) bool { return v.lostUnreported == 1 && v.lostInQueue == 0 }},
	}
	for _, c := range cases {
		v := judgeDelivery(c.outcomes, c.handled, killAt)
		joined := strings.Join(v.problems, "; ")
		switch {
		case c.problem == "" && len(v.problems) > 0:
			t.Errorf("%s: unexpected problems: %s", c.name, joined)
		case c.problem != "" && !strings.Contains(joined, c.problem):
			t.Errorf("%s: want a problem containing %q, got %q", c.name, c.problem, joined)
		case c.check != nil && !c.check(v):
			t.Errorf("%s: verdict %+v", c.name, v)
		}
	}
}
