package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The ledger of reliable messages under faults: what each sender was told
// about every message, and what each receiver's handler got, in order.
// Every message is counted; verify holds the contract to it.

// ledgerPad makes a payload about 100 bytes, the size of the messages in
// the report that started this, and lets the handler notice a payload that
// was changed on the way.
var ledgerPad = strings.Repeat("x", 90)

func ledgerPayload(i int64) string { return fmt.Sprintf("%08d|%s", i, ledgerPad) }

func ledgerParse(v any) (int64, bool) {
	s, _ := v.(string)
	num, pad, ok := strings.Cut(s, "|")
	if !ok || pad != ledgerPad {
		return 0, false
	}
	i, err := strconv.ParseInt(num, 10, 64)
	return i, err == nil
}

// flow is one sequence of messages: sender, destination and message type.
type flow struct {
	from, to string
	typ      int
}

func (f flow) String() string { return fmt.Sprintf("%s->%s type %d", f.from, f.to, f.typ) }

// outcome is what a sender was told about a message other than success.
type outcome uint8

const (
	// unconfirmed: SendTo timed out waiting for the acknowledgement; the
	// message stays in the window and is delivered at most once.
	unconfirmed outcome = iota + 1
	// notSent: the message never entered that destination's window; it
	// must never be delivered there.
	notSent
)

type ledger struct {
	mu     sync.Mutex
	got    map[flow][]int64
	bad    []string // payloads that arrived changed
	issued map[flow]int64
	told   map[flow]map[int64]outcome

	retried atomic.Int64 // SendTo "not sent" errors, retried with the same message
}

func newLedger() *ledger {
	return &ledger{got: map[flow][]int64{}, issued: map[flow]int64{}, told: map[flow]map[int64]outcome{}}
}

// handler records the messages node to receives.
func (l *ledger) handler(to string) func(Message) {
	return func(m Message) {
		i, ok := ledgerParse(m.Payload)
		l.mu.Lock()
		defer l.mu.Unlock()
		if !ok {
			l.bad = append(l.bad, fmt.Sprintf("%.40q from %s", fmt.Sprint(m.Payload), m.Sender.ID))
			return
		}
		f := flow{m.Sender.ID, to, m.Type}
		l.got[f] = append(l.got[f], i)
	}
}

func (l *ledger) tell(f flow, i int64, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.told[f] == nil {
		l.told[f] = map[int64]outcome{}
	}
	l.told[f][i] = o
}

func (l *ledger) issue(f flow, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.issued[f] += n
}

// sendTo sends messages 0..n-1 of type typ from c to node to with SendTo.
// A message not sent (its window stayed full) is sent again; one whose
// delivery is unconfirmed is recorded and the loop moves on.
func (l *ledger) sendTo(ctx context.Context, c *Cluster, to string, typ int, n int64, timeout time.Duration) error {
	f := flow{c.NodeID(), to, typ}
	l.issue(f, n)
	for i := int64(0); i < n; {
		err := c.SendTo(ctx, to, typ, ledgerPayload(i), true, timeout)
		switch {
		case err == nil:
		case errors.Is(err, ErrTimeout) && strings.Contains(err.Error(), "unconfirmed"):
			l.tell(f, i, unconfirmed)
		case errors.Is(err, ErrTimeout) && strings.Contains(err.Error(), "not sent"):
			l.retried.Add(1)
			continue // nothing went out: the same message again
		default:
			return fmt.Errorf("SendTo %s message %d: %w", to, i, err)
		}
		i++
	}
	return nil
}

// broadcast sends messages 0..n-1 of type typ from c with Send (tag "") or
// SendTagged; dests are the nodes that must get them. A "not sent" error
// names the destinations whose window stayed full (the others got the
// message): it is recorded for them and not retried, since a retry would
// reach the others twice; when it names them all the message is sent
// again.
func (l *ledger) broadcast(ctx context.Context, c *Cluster, tag string, typ int, dests []string, n int64, timeout time.Duration) error {
	for _, d := range dests {
		l.issue(flow{c.NodeID(), d, typ}, n)
	}
	for i := int64(0); i < n; i++ {
		var err error
		if tag == "" {
			err = c.Send(ctx, typ, ledgerPayload(i), true, timeout)
		} else {
			err = c.SendTagged(ctx, tag, typ, ledgerPayload(i), true, timeout)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "not sent") {
			return fmt.Errorf("Send(tag %q) message %d: %w", tag, i, err)
		}
		var missed []string
		for _, d := range dests {
			if strings.Contains(err.Error(), strconv.Quote(d)) {
				missed = append(missed, d)
			}
		}
		if len(missed) == len(dests) {
			// No destination got it: sending it again is safe.
			l.retried.Add(1)
			i--
			continue
		}
		for _, d := range missed {
			l.tell(flow{c.NodeID(), d, typ}, i, notSent)
		}
	}
	return nil
}

// due is the number of messages of f that must arrive: all issued but
// those not sent.
func (l *ledger) dueLocked(f flow) int {
	n := int(l.issued[f])
	for _, o := range l.told[f] {
		if o == notSent {
			n--
		}
	}
	return n
}

// complete reports whether every flow got every message due.
func (l *ledger) complete() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for f := range l.issued {
		if len(l.got[f]) < l.dueLocked(f) {
			return false
		}
	}
	return true
}

// progress describes what arrived of what is due, for a timeout message.
func (l *ledger) progress() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for f := range l.issued {
		parts = append(parts, fmt.Sprintf("%v: %d/%d", f, len(l.got[f]), l.dueLocked(f)))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// verify holds every flow to the contract: arrivals strictly increasing
// (exactly once, in order), each message delivered unless its sender was
// told otherwise, a message not sent never delivered, and an unconfirmed
// one delivered all the same (no window was given up in these tests, so
// it was retransmitted until acknowledged). It returns the counts of
// messages delivered and of sends that reported an error.
func (l *ledger) verify(t *testing.T) (delivered, errored int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		t.Fatalf("%d payloads arrived changed, first %v", len(l.bad), l.bad[0])
	}
	for f, got := range l.got {
		if _, ok := l.issued[f]; !ok {
			t.Fatalf("%v: %d messages arrived that nobody sent there", f, len(got))
		}
	}
	for f, n := range l.issued {
		got := l.got[f]
		seen := make([]bool, n)
		for k, i := range got {
			if i < 0 || i >= n {
				t.Fatalf("%v: message %d was never sent (%d issued)", f, i, n)
			}
			if k > 0 && i <= got[k-1] {
				t.Fatalf("%v: message %d arrived after %d: duplicated or out of order", f, i, got[k-1])
			}
			seen[i] = true
		}
		for i := int64(0); i < n; i++ {
			switch o := l.told[f][i]; {
			case o == notSent && seen[i]:
				t.Fatalf("%v: message %d was reported not sent and was delivered", f, i)
			case o != notSent && !seen[i]:
				t.Fatalf("%v: message %d lost: its sender was told %v and it never arrived (%d of %d arrived)", f, i, o, len(got), n)
			}
		}
		delivered += len(got)
		errored += len(l.told[f])
	}
	return delivered, errored
}

func (o outcome) String() string {
	switch o {
	case unconfirmed:
		return "unconfirmed"
	case notSent:
		return "not sent"
	}
	return "nothing (success)"
}

// replies checks requests under faults: every reply is the one for its
// request, and no request runs its handler twice.
type replies struct {
	mu    sync.Mutex
	calls map[int64]int // handler runs per request value

	ok, timeouts atomic.Int64
	okSet        sync.Map // request values that got their reply
}

func newReplies() *replies { return &replies{calls: map[int64]int{}} }

// handler answers request i with 3i+1.
func (r *replies) handler(m Message) (any, error) {
	i, _ := m.Payload.(int64)
	r.mu.Lock()
	r.calls[i]++
	r.mu.Unlock()
	return 3*i + 1, nil
}

// request sends requests 0..n-1 of type typ from c to node to. A reply must
// be the request's own; an error must be a timeout (no reply in time, or
// the request not delivered).
func (r *replies) request(ctx context.Context, c *Cluster, to string, typ int, n int64, timeout time.Duration) error {
	for i := int64(0); i < n; i++ {
		v, err := c.SendRequest(ctx, to, typ, i, timeout)
		switch {
		case err == nil:
			if v != 3*i+1 {
				return fmt.Errorf("request %d to %s: reply %v (%T), want %d", i, to, v, v, 3*i+1)
			}
			r.ok.Add(1)
			r.okSet.Store(i, true)
		case errors.Is(err, ErrTimeout):
			r.timeouts.Add(1)
		default:
			return fmt.Errorf("request %d to %s: %w", i, to, err)
		}
	}
	return nil
}

// verify checks that no handler ran twice and every answered request ran
// its handler once.
func (r *replies) verify(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, k := range r.calls {
		if k > 1 {
			t.Fatalf("request %d ran its handler %d times", i, k)
		}
	}
	r.okSet.Range(func(k, _ any) bool {
		if r.calls[k.(int64)] != 1 {
			t.Fatalf("request %v was answered but its handler ran %d times", k, r.calls[k.(int64)])
		}
		return true
	})
}
