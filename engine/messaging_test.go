package engine

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSendAndSendTo(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	var recs [3]recorder
	for i, c := range nodes {
		if err := c.Handle(200, recs[i].handle); err != nil {
			t.Fatal(err)
		}
	}
	for _, reliable := range []bool{true, false} {
		if err := nodes[0].Send(context.Background(), 200, map[string]any{"x": int64(1)}, reliable, -1); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < 3; i++ {
		pump(t, nodes[i], 5*time.Second, "two messages", func() bool { return recs[i].n.Load() >= 2 })
		m := recs[i].all()[0]
		if m.Sender.ID != "n0" || m.Sender.Addr != nodes[0].LocalNode().Addr || m.Type != 200 {
			t.Fatalf("bad message %+v", m)
		}
		if p, ok := m.Payload.(map[string]any); !ok || p["x"] != int64(1) {
			t.Fatalf("payload %#v", m.Payload)
		}
	}
	nodes[0].Dispatch()
	if recs[0].n.Load() != 0 {
		t.Fatal("Send delivered to self")
	}
	if err := nodes[0].SendTo(context.Background(), "n2", 200, "direct", true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[2], 5*time.Second, "direct message", func() bool { return recs[2].n.Load() == 3 })
	if err := nodes[0].SendTo(context.Background(), "n0", 200, "self", true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[0], time.Second, "self message", func() bool { return recs[0].n.Load() == 1 })

	err := nodes[0].SendTo(context.Background(), "ghost", 200, 1, true, -1)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `unknown node "ghost"`) {
		t.Fatalf("err = %v", err)
	}
	if err := nodes[0].Send(context.Background(), 5, 1, true, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("reserved type: %v", err)
	}
	if err := nodes[0].Send(context.Background(), 70000, 1, true, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("type too large: %v", err)
	}
	if err := nodes[0].Send(context.Background(), 200, func() {}, true, -1); !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("bad payload: %v", err)
	}
}

func TestSendTagged(t *testing.T) {
	nodes := startCluster(t, 3, func(i int, cfg *Config) {
		if i == 1 {
			cfg.Tags = []string{"gpu"}
		}
	})
	var recs [3]recorder
	for i, c := range nodes {
		_ = c.Handle(300, recs[i].handle)
	}
	if err := nodes[0].SendTagged(context.Background(), "gpu", 300, "job", true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[1], 5*time.Second, "tagged message", func() bool { return recs[1].n.Load() == 1 })
	// A forged tagged message to a node without the tag is refused there.
	p := nodes[0].peers.get("n2")
	body, flags, _ := nodes[0].encodePayload("sneaky")
	if err := nodes[0].sendUnreliable(p, 300, "gpu", body, flags); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "n2 drops tagged message", func() bool { return nodes[2].Stats().TagDropped == 1 })
	nodes[2].Dispatch()
	if recs[2].n.Load() != 0 {
		t.Fatal("node without tag ran the handler")
	}
}

func TestReliableOrdering(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	const n = 1000
	var got []int64
	_ = nodes[1].Handle(400, func(m Message) { got = append(got, m.Payload.(int64)) })
	for i := int64(0); i < n; i++ {
		if err := nodes[0].SendTo(context.Background(), "n1", 400, i, true, -1); err != nil && i == 0 {
			t.Fatal(err)
		}
	}
	pump(t, nodes[1], 30*time.Second, "1000 messages", func() bool { return len(got) >= n })
	time.Sleep(100 * time.Millisecond)
	nodes[1].Dispatch()
	if len(got) != n {
		t.Fatalf("got %d messages", len(got))
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("message %d is %d", i, v)
		}
	}
}

func TestReliableOrderingAsync(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	const n = 1000
	var got []int64
	_ = nodes[1].Handle(401, func(m Message) { got = append(got, m.Payload.(int64)) })
	for i := int64(0); i < n; i++ {
		if err := nodes[0].Send(context.Background(), 401, i, true, -1); err != nil {
			t.Fatal(err)
		}
	}
	pump(t, nodes[1], 30*time.Second, "1000 messages", func() bool { return len(got) >= n })
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("message %d is %d", i, v)
		}
	}
}

func TestUnreliableTooLarge(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	err := nodes[0].Send(context.Background(), 200, strings.Repeat("x", 70000), false, -1)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	var rec recorder
	_ = nodes[1].Handle(200, rec.handle)
	big := strings.Repeat("y", 200000)
	if err := nodes[0].SendTo(context.Background(), "n1", 200, big, true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[1], 5*time.Second, "large reliable message", func() bool { return rec.n.Load() == 1 })
	if rec.all()[0].Payload != big {
		t.Fatal("large payload corrupted")
	}
}

func TestEncryption(t *testing.T) {
	key := "0123456789abcdef"
	nodes := startCluster(t, 2, func(i int, cfg *Config) { cfg.EncryptionKey = key })
	var rec recorder
	_ = nodes[1].Handle(200, rec.handle)
	_ = nodes[0].SendTo(context.Background(), "n1", 200, "secret", false, -1)
	pump(t, nodes[1], 5*time.Second, "encrypted message", func() bool { return rec.n.Load() == 1 })

	for _, k := range []string{"", "fedcba9876543210"} {
		cfg := testConfig("intruder" + k)
		cfg.EncryptionKey = k
		x := startNode(t, cfg)
		if _, err := x.Join(context.Background(), []string{nodes[0].LocalNode().Addr}); !errors.Is(err, ErrJoinFailed) {
			t.Fatalf("key %q: join err = %v", k, err)
		}
	}
}

func TestMixedCompression(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { cfg.Compression = i == 0 })
	var recs [2]recorder
	_ = nodes[0].Handle(200, recs[0].handle)
	_ = nodes[1].Handle(200, recs[1].handle)
	payload := strings.Repeat("compressible ", 500)
	_ = nodes[0].SendTo(context.Background(), "n1", 200, payload, true, -1)
	_ = nodes[1].SendTo(context.Background(), "n0", 200, payload, true, -1)
	pump(t, nodes[1], 5*time.Second, "compressed message", func() bool { return recs[1].n.Load() == 1 })
	pump(t, nodes[0], 5*time.Second, "plain message", func() bool { return recs[0].n.Load() == 1 })
	if recs[1].all()[0].Payload != payload || recs[0].all()[0].Payload != payload {
		t.Fatal("payload mismatch")
	}
}

func TestBearerToken(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { cfg.BearerToken = "s3cret" })
	for _, tok := range []string{"", "wrong"} {
		cfg := testConfig("tok-" + tok)
		cfg.BearerToken = tok
		x := startNode(t, cfg)
		_, err := x.Join(context.Background(), []string{nodes[0].LocalNode().Addr})
		if !errors.Is(err, ErrJoinFailed) || !strings.Contains(err.Error(), "bearer token") {
			t.Fatalf("token %q: join err = %v", tok, err)
		}
	}
	// A message without a valid MAC is dropped before dispatch.
	var rec recorder
	_ = nodes[1].Handle(200, rec.handle)
	before := nodes[1].Stats().AuthFailures
	forged := encodeEnvelope(&envelope{msgType: 200, sender: "n0", payload: []byte{0}}, tokenKey("wrong"))
	nodes[1].receive(forged, false)
	nodes[1].receive(encodeEnvelope(&envelope{msgType: 200, sender: "n0", payload: []byte{0}}, nil), false)
	if got := nodes[1].Stats().AuthFailures - before; got != 2 {
		t.Fatalf("auth failures = %d", got)
	}
	_ = nodes[0].SendTo(context.Background(), "n1", 200, "ok", false, -1)
	pump(t, nodes[1], 5*time.Second, "authenticated message", func() bool { return rec.n.Load() == 1 })
}

func TestAppVersion(t *testing.T) {
	a := startNode(t, func() Config { c := testConfig("v1"); c.AppVersion = "1.4.0"; return c }())
	b := startNode(t, func() Config { c := testConfig("v2"); c.AppVersion = "2.0.0"; return c }())
	_, err := b.Join(context.Background(), []string{a.LocalNode().Addr})
	if !errors.Is(err, ErrJoinFailed) || !strings.Contains(err.Error(), "1.4.0") || !strings.Contains(err.Error(), "2.0.0") {
		t.Fatalf("err = %v", err)
	}
	c := startNode(t, func() Config { c := testConfig("v3"); c.AppVersion = "1.9.2"; return c }())
	if _, err := c.Join(context.Background(), []string{a.LocalNode().Addr}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "compatible join", func() bool { return a.NumAlive() == 2 })
	time.Sleep(300 * time.Millisecond)
	if a.NumAlive() != 2 {
		t.Fatalf("incompatible node was admitted: %+v", a.AliveNodes())
	}
}

func TestCompatibleVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		ok   bool
	}{
		{"1.4.0", "1.9.9", true}, {"1.4.0", "2.0.0", false}, {"0.3.1", "0.3.9", true},
		{"0.3.1", "0.4.0", false}, {"", "", true}, {"", "1.0.0", false},
		{"weird", "weird", true}, {"weird", "1.0.0", false}, {"v1.2", "1.3.0-rc1", true},
	} {
		if got := compatibleVersions(tc.a, tc.b); got != tc.ok {
			t.Errorf("compatibleVersions(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestDispatchNotReentrant(t *testing.T) {
	c := startNode(t, testConfig("re"))
	var inner atomic.Int64
	calls := 0
	_ = c.Handle(200, func(m Message) {
		calls++
		inner.Store(int64(c.Dispatch()))
		if calls == 1 {
			_ = c.SendTo(context.Background(), "re", 200, "again", true, -1)
		}
	})
	_ = c.SendTo(context.Background(), "re", 200, "first", true, -1)
	if n := c.Dispatch(); n != 1 {
		t.Fatalf("Dispatch ran %d", n)
	}
	if inner.Load() != 0 {
		t.Fatal("nested Dispatch ran handlers")
	}
	if n := c.Dispatch(); n != 1 {
		t.Fatalf("second Dispatch ran %d", n)
	}
	_ = c.Handle(201, func(Message) { panic("boom") })
	_ = c.SendTo(context.Background(), "re", 201, nil, true, -1)
	c.Dispatch()
	if c.Stats().HandlerErrors != 1 {
		t.Fatal("panic not counted")
	}
}

func TestQueueFullDropsUnreliable(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { cfg.EventQueueSize = 5 })
	var rec recorder
	_ = nodes[1].Handle(200, rec.handle)
	for i := 0; i < 20; i++ {
		_ = nodes[0].SendTo(context.Background(), "n1", 200, i, false, -1)
	}
	waitFor(t, 5*time.Second, "drops counted", func() bool {
		s := nodes[1].Stats()
		return s.UnreliableDropped > 0 && s.UnreliableDropped+s.UnreliableReceived == 20
	})
	if d := nodes[1].Stats().QueueDepth; d != 5 {
		t.Fatalf("queue depth %d", d)
	}
	nodes[1].Dispatch()
	if rec.n.Load() != 5 {
		t.Fatalf("ran %d", rec.n.Load())
	}
	_ = nodes[1].Handle(200, nil)
	_ = nodes[0].SendTo(context.Background(), "n1", 200, "orphan", true, -1)
	pump(t, nodes[1], 5*time.Second, "no-handler drop", func() bool { return nodes[1].Stats().NoHandlerDropped == 1 })
}

func TestReliableBackpressureThenStop(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { cfg.EventQueueSize = 2 })
	_ = nodes[1].Handle(200, func(Message) {})
	for i := 0; i < 50; i++ {
		if err := nodes[0].Send(context.Background(), 200, i, true, -1); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "queue full", func() bool { return nodes[1].Stats().QueueDepth == 2 })
	if d := nodes[1].Stats().UnreliableDropped + nodes[1].Stats().ReliableFailed; d != 0 {
		t.Fatalf("reliable messages dropped: %d", d)
	}
	// Draining releases the blocked deliveries, in order.
	var got []int64
	_ = nodes[1].Handle(200, func(m Message) { got = append(got, m.Payload.(int64)) })
	pump(t, nodes[1], 10*time.Second, "all 50", func() bool { return len(got) == 50 })
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("message %d is %d", i, v)
		}
	}
	for i := 0; i < 20; i++ {
		_ = nodes[0].Send(context.Background(), 200, i, true, -1)
	}
	done := make(chan struct{})
	go func() { nodes[1].Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop blocked behind reliable backpressure")
	}
}

// TestSequencedEnvelopeInDatagramIsDropped checks that an envelope claiming
// to be a sequenced (reliable) message but arriving through memberlist's
// packet path is dropped at once: such messages only travel on streams, and
// letting one wait for its unknown sender would stall the packet handler.
func TestSequencedEnvelopeInDatagramIsDropped(t *testing.T) {
	c := startNode(t, testConfig("n0"))
	var rec recorder
	_ = c.Handle(200, rec.handle)
	before := c.Stats().DecodeErrors
	env := encodeEnvelope(&envelope{msgType: 200, sender: "ghost", reliable: true, session: sessionID{1}, seq: 1, payload: []byte{0}}, nil)
	done := make(chan struct{})
	go func() {
		c.receive(env, false)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(memberWait / 2):
		t.Fatal("a forged sequenced datagram held up the packet path")
	}
	if got := c.Stats().DecodeErrors - before; got != 1 {
		t.Fatalf("decode errors = %d, want 1", got)
	}
	if c.Dispatch() != 0 || rec.n.Load() != 0 {
		t.Fatal("the forged message reached a handler")
	}
}
