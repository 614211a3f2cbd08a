package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// Breaking the stream while messages are in flight forces redials, retries
// and duplicate frames; the receiver must still see every message once, in
// order. Token and encryption are on so MACs and sealed streams are covered.
func TestReliableSurvivesStreamBreaks(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) {
		cfg.EncryptionKey = "0123456789abcdef"
		cfg.BearerToken = "s3cret"
	})
	const n = 3000
	var got []int64
	_ = nodes[1].Handle(410, func(m Message) { got = append(got, m.Payload.(int64)) })
	addr := nodes[1].LocalNode().Addr
	// Phases of 500: the stream is closed once mid-phase (while frames may
	// be in flight) and once after the phase arrived (forcing a redial).
	for i := int64(0); i < n; i++ {
		if i%500 == 250 {
			nodes[0].tr.ClosePeer(addr)
		}
		if err := nodes[0].Send(context.Background(), 410, i, true, -1); err != nil {
			t.Fatal(err)
		}
		if i%500 == 499 {
			want := int(i + 1)
			pump(t, nodes[1], 30*time.Second, fmt.Sprintf("%d messages", want), func() bool { return len(got) >= want })
			nodes[0].tr.ClosePeer(addr)
		}
	}
	pump(t, nodes[1], 30*time.Second, fmt.Sprintf("%d messages", n), func() bool { return len(got) >= n })
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("message %d is %d", i, v)
		}
	}
	if s := nodes[0].tr.Stats(); s.FramesSent < n || s.ConnsOpened < 2 {
		t.Fatalf("streams stats %+v: want >= %d frames on >= 2 connections", s, n)
	}
	if s := nodes[1].Stats(); s.AuthFailures != 0 || s.DecodeErrors != 0 {
		t.Fatalf("receiver stats %+v", s)
	}
}

// An injected transport is wrapped too, so reliable messages over faultnet
// take the same stream path as over the network.
func TestReliableOverInjectedTransport(t *testing.T) {
	fn := faultnet.NewNetwork()
	nodes := startCluster(t, 2, func(i int, cfg *Config) {
		tr, err := fn.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Transport = tr
		cfg.BindAddr = tr.Addr()
	})
	var rec recorder
	_ = nodes[1].Handle(411, rec.handle)
	for i := 0; i < 100; i++ {
		if err := nodes[0].SendTo(context.Background(), "n1", 411, int64(i), true, -1); err != nil {
			t.Fatalf("SendTo %d: %v", i, err)
		}
	}
	pump(t, nodes[1], 10*time.Second, "100 messages", func() bool { return rec.n.Load() == 100 })
	for i, m := range rec.all() {
		if m.Payload != int64(i) || m.Sender.ID != "n0" {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	if s := nodes[0].tr.Stats(); s.ConnsOpened == 0 || s.FramesSent < 100 {
		t.Fatalf("streams stats %+v: reliable messages did not use a stream", s)
	}
}

// A reliable envelope from a sender the receiver has a record of takes the
// record's copy of the sender's id; others get their own.
func TestEnvelopeSharesKnownSenderName(t *testing.T) {
	var rt receiverTable
	rt.init()
	known := rt.get("node-a").sender
	for _, tc := range []struct {
		sender   string
		reliable bool
		shared   bool
	}{{"node-a", true, true}, {"node-b", true, false}, {"node-a", false, false}} {
		buf := encodeEnvelope(&envelope{msgType: 200, sender: tc.sender, reliable: tc.reliable, seq: 1, payload: []byte{0}}, nil)
		var e envelope
		if err := e.decodeNamed(buf, nil, &rt); err != nil {
			t.Fatal(err)
		}
		if e.sender != tc.sender {
			t.Fatalf("sender = %q, want %q", e.sender, tc.sender)
		}
		if shared := unsafe.StringData(e.sender) == unsafe.StringData(known); shared != tc.shared {
			t.Errorf("%+v: sender name shared = %v", tc, shared)
		}
	}
}
