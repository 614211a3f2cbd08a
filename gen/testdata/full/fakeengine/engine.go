// Package fakeengine is the Go API the full test library binds. It records
// what it was given so that tests can check the conversions.
package fakeengine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors mapped to exception classes by the spec.
var (
	ErrBad     = errors.New("bad")
	ErrMissing = errors.New("missing")
)

// Item is one stored item.
type Item struct {
	Key    string
	Count  int
	Score  float64
	Hot    bool
	Value  any
	Labels []string
	Attrs  map[string]string
	Extra  map[string]any
	Owner  Owner
}

// Owner is who added an item.
type Owner struct {
	Name   string
	Rank   int
	Weight float64
	Active bool
	Roles  []string
	Labels map[string]string
	Attrs  map[string]any
}

// OwnerAttrs are the attrs of the owner of the items Add hands to the
// change handler, with "step" added; tests may change them between adds.
var OwnerAttrs = map[string]any{"n": int64(1), "x": 0.5, "s": "v", "b": true, "none": nil}

// owner is the owner of the items Add hands to the change handler: a new
// value each time, equal for equal steps.
func owner(name string, step int) Owner {
	attrs := map[string]any{"step": int64(step)}
	for k, v := range OwnerAttrs {
		attrs[k] = v
	}
	return Owner{Name: name, Rank: 2, Weight: 1.5, Active: true,
		Roles: []string{"a", "b"}, Labels: map[string]string{"k": "v"}, Attrs: attrs}
}

// Batch is a batch of items.
type Batch struct {
	First Item
	Items []Item
}

// Last holds the arguments of the last call, for tests.
var Last struct {
	S  string
	N  int
	X  float64
	B  bool
	D  time.Duration
	NS string
}

// Scalars records its arguments; it must not allocate.
func Scalars(s string, n int, x float64, b bool, d time.Duration, ns string) {
	Last.S, Last.N, Last.X, Last.B, Last.D, Last.NS = s, n, x, b, d, ns
}

// Collections counts what it was given.
func Collections(names []string, values []any, attrs map[string]string, extra map[string]any, payload any) int {
	n := len(names) + len(values) + len(attrs) + len(extra)
	if payload != nil {
		n++
	}
	return n
}

// Unions describes its arguments.
func Unions(target []string, value any, number any) []string {
	return []string{strings.Join(target, "+"), fmt.Sprintf("%T:%v", value, value), fmt.Sprintf("%T:%v", number, number)}
}

// Constrained describes its arguments.
func Constrained(level int, ratio float64, key, mode string, size int, wait time.Duration) (string, error) {
	if level == 5 && mode == "slow" {
		return "", fmt.Errorf("%w: level 5 cannot be slow", ErrBad)
	}
	return fmt.Sprintf("%d %v %q %s %d %v", level, ratio, key, mode, size, wait), nil
}

// Lookup finds an item.
func Lookup(key string) (Item, bool, error) {
	switch key {
	case "reserved":
		return Item{}, false, fmt.Errorf("%w: %s", ErrMissing, key)
	case "a":
		return Item{Key: "a", Count: 1, Score: 0.5, Hot: true, Value: []any{int64(1), "x"},
			Labels: []string{"l"}, Attrs: map[string]string{"k": "v"}, Extra: map[string]any{"n": int64(2)}}, true, nil
	}
	return Item{}, false, nil
}

// MaybeName returns a name when flag is set.
func MaybeName(flag bool) (string, bool) { return "name", flag }

// MakeBatch returns a batch of two items.
func MakeBatch() Batch {
	a, b := Item{Key: "a"}, Item{Key: "b"}
	return Batch{First: a, Items: []Item{a, b}}
}

// Counter is a named counter.
type Counter struct {
	mu      sync.Mutex
	name    string
	count   int
	closed  bool
	pending []func()
	handler func(int, Item, int)
	keep    func(string) (bool, error)
	partner *Counter
}

var (
	countersMu sync.Mutex
	counters   = map[string]*Counter{}
)

// OpenCounter opens a counter; opening a second one links the two.
func OpenCounter(name string) *Counter {
	countersMu.Lock()
	defer countersMu.Unlock()
	c := &Counter{name: name}
	for _, other := range counters {
		if other.partner == nil {
			other.partner, c.partner = c, other
			break
		}
	}
	counters[name] = c
	return c
}

// FindCounter returns an open counter.
func FindCounter(name string) (*Counter, bool) {
	countersMu.Lock()
	defer countersMu.Unlock()
	c, ok := counters[name]
	return c, ok
}

// Total sums two counters.
func Total(a, b *Counter) int { return a.Value() + b.Value() }

// Closed reports how many counters were closed, for tests.
func Closed() []string {
	countersMu.Lock()
	defer countersMu.Unlock()
	var out []string
	for name, c := range counters {
		if c.closed {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Add adds step and queues the change handler.
func (c *Counter) Add(step int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fmt.Errorf("%w: %s is closed", ErrBad, c.name)
	}
	c.count += step
	if h := c.handler; h != nil {
		n := c.count
		o := owner(c.name, step)
		c.pending = append(c.pending, func() { h(n, Item{Key: c.name, Count: n, Owner: o}, step) })
	}
	return c.count, nil
}

// Value is the current count.
func (c *Counter) Value() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// Items returns one item per unit counted.
func (c *Counter) Items() []Item {
	out := []Item{}
	for i := 0; i < c.Value(); i++ {
		out = append(out, Item{Key: fmt.Sprint(i)})
	}
	return out
}

// OnChange registers the change handler.
func (c *Counter) OnChange(h func(int, Item, int)) {
	c.mu.Lock()
	c.handler = h
	c.mu.Unlock()
}

// SetFilter registers a filter; it is tried at once on "keep" and "drop".
func (c *Counter) SetFilter(keep func(string) (bool, error), score func(string) (float64, error)) {
	c.keep = keep
	for _, k := range []string{"keep", "drop"} {
		if ok, err := keep(k); err == nil && ok {
			c.count++
		}
	}
	if score != nil {
		if s, err := score("x"); err == nil {
			c.count += int(s)
		}
	}
}

// MapValues applies fn to 1, "a" and nil, then label and weight.
func (c *Counter) MapValues(fn func(any) (any, error), label func(int) (string, error), weight func() (int, error)) []any {
	var out []any
	for _, v := range []any{int64(1), "a", nil} {
		r, err := fn(v)
		if err != nil {
			out = append(out, "error: "+err.Error())
			continue
		}
		out = append(out, r)
	}
	if label != nil {
		s, err := label(3)
		if err != nil {
			s = "error: " + err.Error()
		}
		out = append(out, s)
	}
	if weight != nil {
		w, err := weight()
		if err != nil {
			out = append(out, "error: "+err.Error())
		} else {
			out = append(out, int64(w))
		}
	}
	return out
}

// Partner returns the linked counter.
func (c *Counter) Partner() (*Counter, bool) { return c.partner, c.partner != nil }

// Hub is one interpreter's shared value: it counts that interpreter's
// calls into the library, so tests can tell interpreters apart.
type Hub struct{ calls int }

// NewHub returns a Hub with no calls counted.
func NewHub() *Hub { return &Hub{} }

// Touch counts one call (the bindings call it first in every call).
func (h *Hub) Touch() { h.calls++ }

// Calls returns the calls counted.
func (h *Hub) Calls() int { return h.calls }

// Block waits until ctx ends (returning its error) or limit passes
// (negative: no limit); it reports false, as nothing adds steps meanwhile.
func (c *Counter) Block(ctx context.Context, limit time.Duration) (bool, error) {
	var expire <-chan time.Time
	if limit >= 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-expire:
		return false, nil
	}
}

// Flush runs queued handlers.
func (c *Counter) Flush() {
	c.mu.Lock()
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, f := range p {
		f()
	}
}

// Close closes the counter.
func (c *Counter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
