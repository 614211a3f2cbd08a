package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/engine"
)

const benchType = 200 // message type used by the scenarios

// inbox counts the messages one side's receivers got and checks their
// order per receiver (sequence numbers must go 0, 1, 2, ...).
type inbox struct {
	mu       sync.Mutex
	next     map[string]int64
	got      atomic.Int64
	disorder atomic.Int64
	signal   chan struct{}
	// handledAt is when the handler last ran (Unix ns): a latency ends
	// there, not when the sender's call returns, which for an
	// acknowledged send comes a return trip later.
	handledAt atomic.Int64
}

func newInbox() *inbox {
	return &inbox{next: map[string]int64{}, signal: make(chan struct{}, 1)}
}

func (in *inbox) record(rx string, seq int64) {
	in.mu.Lock()
	if seq != in.next[rx] {
		in.disorder.Add(1)
	}
	in.next[rx] = seq + 1
	in.mu.Unlock()
	in.got.Add(1)
	in.handledAt.Store(time.Now().UnixNano())
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

// payloads builds the engine's payload and memberlist's raw bytes for a
// message of about size bytes carrying seq.
type payloads struct{ pad string }

func newPayloads(size int) payloads { return payloads{pad: strings.Repeat("x", max(size-12, 0))} }

func (p payloads) ours(seq int64) any { return []any{seq, p.pad} }

func (p payloads) base(seq int64) []byte {
	b := make([]byte, 8, 8+len(p.pad))
	binary.BigEndian.PutUint64(b, uint64(seq))
	return append(b, p.pad...)
}

// listenOurs registers the inbox on rx and runs rx's handlers on a
// goroutine until stop is closed (or the node stops).
func listenOurs(rx *ourNode, in *inbox, stop <-chan struct{}) {
	id := rx.ID()
	_ = rx.c.Handle(benchType, func(m engine.Message) {
		if p, ok := m.Payload.([]any); ok && len(p) > 0 {
			seq, _ := p[0].(int64)
			in.record(id, seq)
		}
	})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rx.c.Wait(context.Background(), 20*time.Millisecond)
		}
	}()
}

// listenBase points rx's NotifyMsg at the inbox.
func listenBase(rx *baseNode, in *inbox) {
	id := rx.ID()
	f := func(b []byte) {
		if len(b) >= 8 {
			in.record(id, int64(binary.BigEndian.Uint64(b)))
		}
	}
	rx.d.onMsg.Store(&f)
}

// memberOf returns a's view of the node named id.
func memberOf(a *baseNode, id string) (*memberlist.Node, error) {
	for _, m := range a.ml.Members() {
		if m.Name == id {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%s does not know %s", a.ID(), id)
}

// pair starts two converged nodes of s, the second one listening.
func pair(s side, in *inbox, stop <-chan struct{}) ([]node, error) {
	return pairWith(s, lan, in, stop)
}

// pairWith is pair with profile p.
func pairWith(s side, p profile, in *inbox, stop <-chan struct{}) ([]node, error) {
	nodes, err := cluster(s, 2, p)
	if err != nil {
		return nil, err
	}
	switch rx := nodes[1].(type) {
	case *ourNode:
		listenOurs(rx, in, stop)
	case *baseNode:
		listenBase(rx, in)
	}
	return nodes, nil
}

// Figure 3: reliable one-to-one throughput. The sender sends as fast as
// the API lets it for d (the engine: Send, reliable, to the one other
// node, from one goroutine; memberlist: SendReliable in a loop, which is
// what ordered delivery needs there), and the time runs until the receiver
// got everything. The engine must deliver in order and exactly once. Each
// size is then also set against the loopback TCP limit (wirelimit.go).
func runReliableThroughput(b *bench) error {
	d := 2 * time.Second
	if b.quick {
		d = 200 * time.Millisecond
	}
	for _, c := range []struct {
		size int
		p    profile
	}{{100, lan}, {10 << 10, lan}, {100, lanEncrypted}, {10 << 10, lanEncrypted}} {
		ours, base, err := b.compare(func(s side) ([]float64, error) {
			r, err := reliableOnce(s, c.p, c.size, d)
			return []float64{r}, err
		})
		if err != nil {
			return fmt.Errorf("%d B, %s: %w", c.size, c.p.name, err)
		}
		name := fmt.Sprintf("reliable throughput, %s", sizeName(c.size))
		if c.p.key != "" {
			name += ", encrypted"
		}
		b.add(name, "msg/s", rate, ours[0], base[0])
		// The same figure against what the wire allows (wirelimit.go),
		// measured right after it: plain streams against the plain limit,
		// encrypted ones against the sealed limit.
		sealed := c.p.key != ""
		limit, err := wireLimit(b, c.size, sealed, d)
		if err != nil {
			return fmt.Errorf("%d B: %w", c.size, err)
		}
		b.add(fmt.Sprintf("reliable %s throughput (baseline: loopback TCP limit, %s)", sizeName(c.size), map[bool]string{false: "plain", true: "sealed"}[sealed]), "msg/s", rate, ours[0], limit)
	}
	return nil
}

func sizeName(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func reliableOnce(s side, prof profile, size int, d time.Duration) (float64, error) {
	in, stop := newInbox(), make(chan struct{})
	defer close(stop)
	nodes, err := pairWith(s, prof, in, stop)
	if err != nil {
		return 0, err
	}
	defer stopNodes(nodes)
	p := newPayloads(size)
	sent := int64(0)
	t0 := time.Now()
	switch a := nodes[0].(type) {
	case *ourNode:
		for time.Since(t0) < d {
			if err := a.c.Send(context.Background(), benchType, p.ours(sent), true, -1); err != nil {
				return 0, err
			}
			sent++
		}
	case *baseNode:
		to, err := memberOf(a, nodes[1].ID())
		if err != nil {
			return 0, err
		}
		for time.Since(t0) < d {
			if err := a.ml.SendReliable(to, p.base(sent)); err != nil {
				return 0, err
			}
			sent++
		}
	}
	if err := waitUntil(120*time.Second, time.Millisecond, "every reliable message", func() bool { return in.got.Load() >= sent }); err != nil {
		return 0, err
	}
	elapsed := time.Since(t0).Seconds()
	if s.name == oursSide.name {
		if got, dis := in.got.Load(), in.disorder.Load(); got != sent || dis != 0 {
			return 0, fmt.Errorf("engine delivered %d of %d with %d out of order", got, sent, dis)
		}
	}
	return float64(sent) / elapsed, nil
}

// Figure 4: reliable one-message latency, from the send call until the
// receiver's handler runs (the engine: SendTo, reliable; memberlist:
// SendReliable to NotifyMsg), one message at a time; and how long the send
// call itself blocks (the engine's SendTo returns once the receiver has
// acknowledged the message, memberlist's SendReliable once it is written).
func runReliableLatency(b *bench) error {
	samples := 1000
	if b.quick {
		samples = 30
	}
	ours, base, err := b.compare(func(s side) ([]float64, error) {
		return latencyOnce(s, samples)
	})
	if err != nil {
		return err
	}
	b.add("reliable latency p50", "ms", cost, ours[0], base[0])
	b.add("reliable latency p99", "ms", cost, ours[1], base[1])
	b.add("reliable send call p50", "ms", cost, ours[2], base[2])
	b.add("reliable send call p99", "ms", cost, ours[3], base[3])
	return nil
}

func latencyOnce(s side, samples int) ([]float64, error) {
	in, stop := newInbox(), make(chan struct{})
	defer close(stop)
	nodes, err := pair(s, in, stop)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	p := newPayloads(100)
	var send func(seq int64) error
	switch a := nodes[0].(type) {
	case *ourNode:
		rx := nodes[1].ID()
		send = func(seq int64) error { return a.c.SendTo(context.Background(), rx, benchType, p.ours(seq), true, -1) }
	case *baseNode:
		to, err := memberOf(a, nodes[1].ID())
		if err != nil {
			return nil, err
		}
		send = func(seq int64) error { return a.ml.SendReliable(to, p.base(seq)) }
	}
	ms := make([]float64, 0, samples)
	calls := make([]float64, 0, samples)
	for i := range samples {
		t0 := time.Now()
		if err := send(int64(i)); err != nil {
			return nil, err
		}
		calls = append(calls, float64(time.Since(t0).Microseconds())/1000)
		select {
		case <-in.signal:
		case <-time.After(5 * time.Second):
			return nil, errors.New("a message did not arrive within 5 s")
		}
		ms = append(ms, float64(time.Duration(in.handledAt.Load()-t0.UnixNano()).Microseconds())/1000)
	}
	if s.name == oursSide.name {
		if got, dis := in.got.Load(), in.disorder.Load(); got != int64(samples) || dis != 0 {
			return nil, fmt.Errorf("engine delivered %d of %d with %d out of order", got, samples, dis)
		}
	}
	return []float64{percentile(ms, 50), percentile(ms, 99), percentile(calls, 50), percentile(calls, 99)}, nil
}

// Figure 5: unreliable throughput and loss. The sender sends single UDP
// messages as fast as it can for d; the rate counts what arrived within
// 300 ms after, over d. The loss ratio compares delivered fractions.
func runUnreliable(b *bench) error {
	d := 2 * time.Second
	if b.quick {
		d = 200 * time.Millisecond
	}
	ours, base, err := b.compare(func(s side) ([]float64, error) {
		return unreliableOnce(s, d)
	})
	if err != nil {
		return err
	}
	b.add("unreliable throughput, 100 B", "msg/s", rate, ours[0], base[0])
	b.add("unreliable delivered (100% - loss)", "%", rate, ours[1], base[1])
	return nil
}

func unreliableOnce(s side, d time.Duration) ([]float64, error) {
	in, stop := newInbox(), make(chan struct{})
	defer close(stop)
	nodes, err := pair(s, in, stop)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	p := newPayloads(100)
	sent := int64(0)
	t0 := time.Now()
	switch a := nodes[0].(type) {
	case *ourNode:
		for time.Since(t0) < d {
			if err := a.c.Send(context.Background(), benchType, p.ours(sent), false, -1); err != nil {
				return nil, err
			}
			sent++
		}
	case *baseNode:
		to, err := memberOf(a, nodes[1].ID())
		if err != nil {
			return nil, err
		}
		for time.Since(t0) < d {
			if err := a.ml.SendBestEffort(to, p.base(sent)); err != nil {
				return nil, err
			}
			sent++
		}
	}
	time.Sleep(300 * time.Millisecond)
	got := float64(in.got.Load())
	return []float64{got / d.Seconds(), 100 * got / float64(sent)}, nil
}

// Figure 6: broadcast. One node of N sends reliable messages to all the
// others for d (the engine: Send; memberlist: SendReliable to each member
// in turn); the rate counts deliveries (messages x receivers) per second
// until all arrived.
func runBroadcast(b *bench) error {
	n, d := 32, 2*time.Second
	if b.quick {
		n, d = 4, 200*time.Millisecond
	}
	ours, base, err := b.compare(func(s side) ([]float64, error) {
		r, err := broadcastOnce(s, n, d)
		return []float64{r}, err
	})
	if err != nil {
		return err
	}
	b.add(fmt.Sprintf("broadcast send to all, N=%d, deliveries", n), "msg/s", rate, ours[0], base[0])
	return nil
}

func broadcastOnce(s side, n int, d time.Duration) (float64, error) {
	in, stop := newInbox(), make(chan struct{})
	defer close(stop)
	nodes, err := cluster(s, n, lan)
	if err != nil {
		return 0, err
	}
	defer stopNodes(nodes)
	for _, x := range nodes[1:] {
		switch rx := x.(type) {
		case *ourNode:
			listenOurs(rx, in, stop)
		case *baseNode:
			listenBase(rx, in)
		}
	}
	p := newPayloads(100)
	sent := int64(0)
	t0 := time.Now()
	switch a := nodes[0].(type) {
	case *ourNode:
		for time.Since(t0) < d {
			if err := a.c.Send(context.Background(), benchType, p.ours(sent), true, -1); err != nil {
				return 0, err
			}
			sent++
		}
	case *baseNode:
		var peers []*memberlist.Node
		for _, m := range a.ml.Members() {
			if m.Name != a.ID() {
				peers = append(peers, m)
			}
		}
		for time.Since(t0) < d {
			msg := p.base(sent)
			for _, to := range peers {
				if err := a.ml.SendReliable(to, msg); err != nil {
					return 0, err
				}
			}
			sent++
		}
	}
	want := sent * int64(n-1)
	if err := waitUntil(300*time.Second, time.Millisecond, "every broadcast delivery", func() bool { return in.got.Load() >= want }); err != nil {
		return 0, err
	}
	return float64(want) / time.Since(t0).Seconds(), nil
}
