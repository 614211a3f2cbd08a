package netlab

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Status is one line node.py prints: what a host believes at instant T.
type Status struct {
	ID        string            `json:"id"`
	T         float64           `json:"t"` // the host's wall clock, Unix seconds
	Seq       int               `json:"seq"`
	Addr      string            `json:"addr"`
	Members   map[string]Member `json:"members"`
	Joined    bool              `json:"joined"`
	JoinError *string           `json:"join_error"`
	Events    []Event           `json:"events"`
	IsLeader  bool              `json:"is_leader"`
	Term      *int64            `json:"term"` // nil: the election reports no term
	Leader    *string           `json:"leader"`
	Run       int               `json:"-"` // which run of the host printed it
}

// Member is one entry of a host's membership view.
type Member struct {
	State string         `json:"state"`
	Addr  string         `json:"addr"`
	Meta  map[string]any `json:"meta"`
}

// Event is a state change or election event seen by a host:
// [time, node id, state or "election:<kind>"] on the wire.
type Event struct {
	T    float64
	Node string
	Kind string
}

func (e *Event) UnmarshalJSON(b []byte) error {
	var raw []any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 3 {
		return fmt.Errorf("event %s: want [time, node, kind]", b)
	}
	t, ok1 := raw[0].(float64)
	node, ok2 := raw[1].(string)
	kind, ok3 := raw[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("event %s: want [time, node, kind]", b)
	}
	*e = Event{T: t, Node: node, Kind: kind}
	return nil
}

// At is the status's instant on the test's clock (the same machine's).
func (s Status) At() time.Time { return unixSeconds(s.T) }

func unixSeconds(t float64) time.Time { return time.Unix(0, int64(t*1e9)) }

// StateOf is id's state in this view ("" when unknown).
func (s Status) StateOf(id string) string { return s.Members[id].State }

// SeesAllAlive reports whether every id is alive in this view.
func (s Status) SeesAllAlive(ids []string) bool {
	for _, id := range ids {
		if s.StateOf(id) != "alive" {
			return false
		}
	}
	return true
}

// observer keeps everything a host printed, across its runs.
type observer struct {
	mu       sync.Mutex
	statuses []Status
	other    []string // lines that are not status lines
}

func (o *observer) add(line string, run int) {
	var s Status
	if err := json.Unmarshal([]byte(line), &s); err != nil || s.ID == "" {
		o.mu.Lock()
		o.other = append(o.other, line)
		o.mu.Unlock()
		return
	}
	s.Run = run
	o.mu.Lock()
	o.statuses = append(o.statuses, s)
	o.mu.Unlock()
}

// Last is the newest status of the host's current run, if any.
func (o *observer) Last(run int) (Status, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.statuses); n > 0 && o.statuses[n-1].Run == run {
		return o.statuses[n-1], true
	}
	return Status{}, false
}

// All is a copy of every status so far.
func (o *observer) All() []Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Status(nil), o.statuses...)
}

// Other is a copy of every non-status line so far.
func (o *observer) Other() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.other...)
}

// OtherFrom is a copy of the non-status lines from the i-th on, for readers
// that parse a long output as it grows.
func (o *observer) OtherFrom(i int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i >= len(o.other) {
		return nil
	}
	return append([]string(nil), o.other[i:]...)
}

// Last is the host's newest status from its current run.
func (h *Host) Last() (Status, bool) {
	h.mu.Lock()
	run := h.runs
	h.mu.Unlock()
	return h.obs.Last(run)
}

// Events lists every event the host reported, across runs.
func (h *Host) Events() []Event {
	var out []Event
	for _, s := range h.obs.All() {
		out = append(out, s.Events...)
	}
	return out
}
