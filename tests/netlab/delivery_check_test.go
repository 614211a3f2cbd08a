package netlab

import (
	"fmt"
	"time"
)

// deliveryVerdict is what the sender's outcomes and the receiver's handled
// numbers say about the delivery contract.
type deliveryVerdict struct {
	confirmed, unconfirmed, failed    int
	handledOnce, duplicates, disorder int
	// lostInQueue: confirmed before the kill and handled by no run. A
	// confirmation means "in the receiver's handler queue", which dies with
	// the process, so these are the messages queued at the SIGKILL.
	lostInQueue int
	// reportedLost: unconfirmed or failed and handled by no run.
	reportedLost int
	// lostUnreported: confirmed, handled by no run and not explained by
	// the kill: silent loss.
	lostUnreported int
	problems       []string
}

// maxProblems caps the violations listed one by one.
const maxProblems = 20

func (v *deliveryVerdict) problem(format string, args ...any) {
	if len(v.problems) == maxProblems {
		v.problems = append(v.problems, "(further violations not listed)")
	}
	if len(v.problems) < maxProblems {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

// judgeDelivery checks the contract. outcomes are the sender's, one per
// number in order; handled are the receiver's lines, in the order its
// handlers ran, from run 1 (killed at killAt) and run 2 (its restart).
func judgeDelivery(outcomes, handled []deliveryLine, killAt time.Time) deliveryVerdict {
	var v deliveryVerdict
	for i, o := range outcomes {
		if *o.N != i {
			v.problem("the sender's outcome #%d is for number %d: its numbers are not consecutive", i, *o.N)
		}
		switch o.O {
		case "confirmed":
			v.confirmed++
		case "unconfirmed":
			v.unconfirmed++
		default:
			v.failed++
		}
	}
	times := map[int]int{}
	first, top := map[int]int{}, map[int]int{}
	for _, h := range handled {
		n := *h.H
		if prev, ok := top[h.R]; ok && n <= prev {
			v.disorder++
			v.problem("receiver run %d handled %d after %d", h.R, n, prev)
		} else {
			top[h.R] = n
		}
		if _, ok := first[h.R]; !ok {
			first[h.R] = n
		}
		times[n]++
		if times[n] == 2 {
			v.duplicates++
			v.problem("number %d handled twice (the second time in run %d)", n, h.R)
		}
		if n < 0 || n >= len(outcomes) {
			v.problem("receiver run %d handled %d, which the sender never sent", h.R, n)
		}
	}
	killedTop, restartFirst := -1, len(outcomes)
	if n, ok := top[1]; ok {
		killedTop = n
	}
	if n, ok := first[2]; ok {
		restartFirst = n
	}
	for n, o := range outcomes {
		if times[n] == 1 {
			v.handledOnce++
		}
		if times[n] > 0 {
			continue
		}
		atKill := n > killedTop && n < restartFirst
		switch {
		case o.O == "confirmed" && atKill && o.At().Before(killAt):
			v.lostInQueue++
		case o.O == "confirmed":
			v.lostUnreported++
			v.problem("number %d, confirmed at %s after %v, was never handled", n,
				o.At().Format(time.StampMilli), time.Duration(o.Took*float64(time.Second)).Round(time.Millisecond))
		default:
			v.reportedLost++
			if !atKill {
				v.problem("number %d, %s at %s, was never handled although its receiver did not restart (a kept message must arrive)",
					n, o.O, o.At().Format(time.StampMilli))
			}
		}
	}
	if v.lostInQueue > eventQueueSize {
		v.problem("%d confirmed messages were lost at the kill, more than the receiver's queue holds (%d)", v.lostInQueue, eventQueueSize)
	}
	return v
}

// eventQueueSize is the engine's default handler queue (event_queue_size).
const eventQueueSize = 1024

// phaseFigure is what the sender saw in one phase, by the start of its sends.
type phaseFigure struct {
	phase                                 *deliveryPhase
	sends, confirmed, unconfirmed, failed int
	notSent, notAlive                     int // retried sends
	longest                               time.Duration
}

func phaseFigures(phases []*deliveryPhase, tx *deliveryLog) []phaseFigure {
	tx.update()
	var out []phaseFigure
	for i, p := range phases {
		end := time.Now().Add(time.Hour)
		if i+1 < len(phases) {
			end = phases[i+1].start
		}
		f := phaseFigure{phase: p}
		for _, o := range tx.outcomes {
			if o.At().Before(p.start) || !o.At().Before(end) {
				continue
			}
			f.sends++
			switch o.O {
			case "confirmed":
				f.confirmed++
				f.longest = max(f.longest, time.Duration(o.Took*float64(time.Second)))
			case "unconfirmed":
				f.unconfirmed++
			default:
				f.failed++
			}
		}
		before, after := tx.countsAt(p.start), tx.countsAt(end)
		f.notSent = after["not_sent"] - before["not_sent"]
		f.notAlive = after["not_alive"] - before["not_alive"]
		out = append(out, f)
	}
	return out
}

// countsAt is the sender's counts in its last status before t.
func (d *deliveryLog) countsAt(t time.Time) map[string]int {
	var counts map[string]int
	for _, st := range d.statuses {
		if !st.At().Before(t) {
			break
		}
		counts = st.Counts
	}
	return counts
}

// lastOfRun is the receiver's last status line from run r.
func (d *deliveryLog) lastOfRun(r int) (deliveryLine, bool) {
	d.update()
	for i := len(d.statuses) - 1; i >= 0; i-- {
		if d.statuses[i].R == r {
			return d.statuses[i], true
		}
	}
	return deliveryLine{}, false
}
