package netlab

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// deliveryLine is one line delivery.py prints: a send's outcome (N, O), a
// handled message (H), or a sender or receiver status (Role).
type deliveryLine struct {
	Role string  `json:"role"`
	R    int     `json:"r"` // the run of the script that printed it
	T    float64 `json:"t"` // Unix seconds: a status's instant, a send's start

	// A send's outcome: the number, "confirmed", "unconfirmed" or "failed",
	// how long send_to took, and a failure's text.
	N    *int    `json:"n"`
	O    string  `json:"o"`
	Took float64 `json:"took"`
	Err  string  `json:"err"`

	// A message the receiver's handler ran for.
	H *int `json:"h"`

	// Sender status: the next number, whether it still sends, the
	// receiver's state in its view, its counts and stats().
	Next    int              `json:"next"`
	Sending bool             `json:"sending"`
	Peer    string           `json:"peer"`
	Counts  map[string]int   `json:"counts"`
	Stats   map[string]int64 `json:"stats"`
	Busy    float64          `json:"busy"`
	Count   int              `json:"count"`
	Dups    int              `json:"dups"`
	Disord  int              `json:"disorder"`
	Max     int              `json:"max"`
	Gaps    [][2]int         `json:"gaps"`
}

// At is the line's instant on the test's clock (the same machine's).
func (d deliveryLine) At() time.Time { return unixSeconds(d.T) }

// deliveryLog is everything one host's delivery.py printed, parsed as it
// arrives.
type deliveryLog struct {
	h        *Host
	read     int // non-status lines of h consumed so far
	outcomes []deliveryLine
	handled  []deliveryLine
	statuses []deliveryLine
}

// update parses the lines printed since the last call.
func (d *deliveryLog) update() {
	lines := d.h.obs.OtherFrom(d.read)
	d.read += len(lines)
	for _, text := range lines {
		var l deliveryLine
		if json.Unmarshal([]byte(text), &l) != nil {
			continue // a line of the runner's own, not the script's
		}
		switch {
		case l.Role != "":
			d.statuses = append(d.statuses, l)
		case l.H != nil:
			d.handled = append(d.handled, l)
		case l.N != nil && l.O != "":
			d.outcomes = append(d.outcomes, l)
		}
	}
}

// last is the newest status line, if any.
func (d *deliveryLog) last() (deliveryLine, bool) {
	d.update()
	if len(d.statuses) == 0 {
		return deliveryLine{}, false
	}
	return d.statuses[len(d.statuses)-1], true
}

// maxHandled is the highest number handled in run r (-1: none).
func (d *deliveryLog) maxHandled(r int) int {
	d.update()
	top := -1
	for _, l := range d.handled {
		if l.R == r && *l.H > top {
			top = *l.H
		}
	}
	return top
}

// sentSince reports whether a send that started at or after t has an
// outcome, and the highest number whose send started before t (-1: none).
func (d *deliveryLog) sentSince(t time.Time) (moved bool, before int) {
	d.update()
	before = -1
	for _, l := range d.outcomes {
		if l.At().Before(t) {
			before = max(before, *l.N)
		} else {
			moved = true
		}
	}
	return moved, before
}

// startDelivery runs delivery.py in role on the host, joining seeds; run
// labels this start of the process in every line it prints.
func (h *Host) startDelivery(role string, seeds []*Host, run int, receiver string) {
	h.lab.t.Helper()
	args := []string{runnerPath, filepath.Join(scriptsDir, "delivery.py"), role, h.Addr(), h.Name,
		strings.Join(h.lab.Addrs(seeds), ","), h.controlPath(), strconv.Itoa(run)}
	if receiver != "" {
		args = append(args, receiver)
	}
	h.start(args...)
}
