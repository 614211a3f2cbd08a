package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// inOrder checks that the messages of one sender arrive exactly once and in
// order: payloads must be 0, 1, 2, ...
type inOrder struct {
	mu    sync.Mutex
	next  int64
	wrong []string
	n     atomic.Int64
}

func (o *inOrder) handle(m Message) {
	v, _ := m.Payload.(int64)
	o.mu.Lock()
	if v != o.next && len(o.wrong) < 10 {
		o.wrong = append(o.wrong, fmt.Sprintf("got %d, want %d", v, o.next))
	}
	o.next = v + 1
	o.mu.Unlock()
	o.n.Add(1)
}

func (o *inOrder) check(t *testing.T, want int64) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.wrong) > 0 || o.n.Load() != want {
		t.Fatalf("delivered %d of %d; out of order or duplicated: %v", o.n.Load(), want, o.wrong)
	}
}

// sendAll sends 0..n-1 reliably with Send, retrying a message whose send
// timed out (nothing was sent), and returns the number of timeouts. Any
// other error is returned.
func sendAll(ctx context.Context, c *Cluster, msgType int, n int64, timeout time.Duration) (int, error) {
	timeouts := 0
	for i := int64(0); i < n; {
		err := c.Send(ctx, msgType, i, true, timeout)
		switch {
		case err == nil:
			i++
		case errors.Is(err, ErrTimeout):
			timeouts++
		default:
			return timeouts, fmt.Errorf("message %d: %w", i, err)
		}
	}
	return timeouts, nil
}

// A receiver that does not dispatch for longer than every timeout (the send
// timeout, the retransmission timeout and its cap, the probe interval) while
// a sender queues 200,000 messages: the sender blocks and times out without
// sending (and retries), nothing is lost or skipped, memory stays within the
// window and the queue, and a busy receiver is probed, not flooded.
func TestReliableReceiverNotPumping(t *testing.T) {
	const (
		total   = 200_000
		queue   = 512
		timeout = 300 * time.Millisecond
		stall   = rtoMax + 2*time.Second // longer than every timeout
	)
	// The failure detector is off (one probe an hour): Send goes to alive
	// nodes only, so on a loaded machine a probe that missed its 50 ms
	// timeout made the receiver suspect and Send skipped it, which looked
	// like loss. This test is about flow control, not failure detection.
	nodes := startCluster(t, 2, func(i int, cfg *Config) {
		cfg.EventQueueSize = queue
		cfg.ProbeInterval = time.Hour
	})
	tx, rx := nodes[0], nodes[1]
	var got inOrder
	_ = rx.Handle(300, got.handle)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var timeouts int
	sendErr := make(chan error, 1)
	go func() {
		var err error
		timeouts, err = sendAll(ctx, tx, 300, total, timeout)
		sendErr <- err
	}()

	// The stall: sample the bounds while nobody dispatches.
	stallEnd := time.Now().Add(stall)
	var maxUnacked uint64
	var maxDepth int
	waitFor(t, stall+5*time.Second, "the stall to pass", func() bool {
		maxUnacked = max(maxUnacked, tx.Stats().ReliableUnacked)
		maxDepth = max(maxDepth, rx.Stats().QueueDepth)
		return time.Now().After(stallEnd)
	})
	st := tx.Stats()
	t.Logf("during the stall: max unacknowledged %d, max queue depth %d, retransmits %d, acknowledged %d",
		maxUnacked, maxDepth, st.ReliableRetransmits, st.ReliableSent)
	if maxUnacked > windowMessages || maxDepth > queue {
		t.Fatalf("memory not bounded: %d unacknowledged (window %d), queue depth %d (bound %d)", maxUnacked, windowMessages, maxDepth, queue)
	}
	if st.ReliableSent != queue {
		t.Fatalf("acknowledged %d during the stall, want exactly the queue's %d", st.ReliableSent, queue)
	}
	// One window refused at most, then probes: a storm would be many windows.
	if st.ReliableRetransmits > 2*windowMessages {
		t.Fatalf("%d retransmissions while the receiver was busy: a retransmit storm", st.ReliableRetransmits)
	}

	var sent error
	sendDone := false
	pump(t, rx, 120*time.Second, "every message", func() bool {
		if !sendDone {
			select {
			case sent = <-sendErr:
				sendDone = true
			default:
			}
		}
		return got.n.Load() >= total || (sendDone && sent != nil)
	})
	if !sendDone {
		sent = <-sendErr
	}
	if sent != nil {
		t.Fatal(sent)
	}
	got.check(t, total)
	t.Logf("sender timeouts retried: %d", timeouts)
	if timeouts == 0 {
		t.Fatal("the sender never timed out: the receiver did not push back")
	}
	waitFor(t, 10*time.Second, "every message acknowledged", func() bool { return tx.Stats().ReliableUnacked == 0 })
	if s := tx.Stats(); s.ReliableFailed != 0 || s.ReliableSent != total {
		t.Fatalf("sender stats %+v", s)
	}
}

// sendToAll sends 0..n-1 to id one at a time with SendTo. A message that
// was not sent (destination not alive, or window full) is tried again; one
// whose delivery is unconfirmed stays in the window and must still arrive
// exactly once, so the loop moves on.
func sendToAll(ctx context.Context, c *Cluster, id string, msgType int, n int64, timeout time.Duration) (unconfirmed int, err error) {
	for i := int64(0); i < n; {
		err := c.SendTo(ctx, id, msgType, i, true, timeout)
		switch {
		case err == nil:
			i++
		case errors.Is(err, ErrTimeout) && strings.Contains(err.Error(), "unconfirmed"):
			unconfirmed++
			i++
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrTimeout):
			if err := c.Wait(ctx, 5*time.Millisecond); err != nil {
				return unconfirmed, err
			}
		default:
			return unconfirmed, fmt.Errorf("message %d: %w", i, err)
		}
	}
	return unconfirmed, nil
}

// A destination declared dead during traffic (a partition longer than the
// suspicion timeout) and alive again after the heal keeps its window: every
// message arrives exactly once, in order, and none fails.
func TestReliableSurvivesDeadAliveFlap(t *testing.T) {
	const total = 3000
	fn := newFaultNet(t)
	nodes, addrs := faultCluster(t, fn, 2)
	tx, rx := nodes[0], nodes[1]
	var got inOrder
	_ = rx.Handle(310, got.handle)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		unconfirmed int
		err         error
	}
	done := make(chan result, 1)
	go func() {
		u, err := sendToAll(ctx, tx, rx.NodeID(), 310, total, 200*time.Millisecond)
		done <- result{u, err}
	}()
	pump(t, rx, 30*time.Second, "traffic before the partition", func() bool { return got.n.Load() >= 300 })
	fn.Partition(addrs[:1], addrs[1:])
	pump(t, rx, 20*time.Second, "the destination seen dead", func() bool {
		return seesStates([]*Cluster{tx}, []*Cluster{rx}, StateDead)
	})
	inFlight := tx.Stats().ReliableUnacked
	fn.Heal()
	pump(t, rx, 60*time.Second, "alive again on both sides", func() bool {
		return seesStates(nodes, nodes, StateAlive)
	})
	pump(t, rx, 120*time.Second, "every message", func() bool { return got.n.Load() >= total })
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	got.check(t, total)
	if s := tx.Stats(); s.ReliableFailed != 0 {
		t.Fatalf("%d reliable messages failed across a dead→alive flap", s.ReliableFailed)
	}
	t.Logf("unacknowledged when seen dead: %d; sends unconfirmed in time: %d; retransmits %d",
		inFlight, r.unconfirmed, tx.Stats().ReliableRetransmits)
}
