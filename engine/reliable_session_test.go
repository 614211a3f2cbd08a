package engine

import (
	"context"
	"testing"
	"time"
)

// The receiver's session rules, one frame at a time.
func TestReceiverSessionRules(t *testing.T) {
	a, b := sessionID{0xff, 1}, sessionID{0x01, 2} // b sorts below a: ids are not ordered
	var rs recvSession
	steps := []struct {
		s    sessionID
		seq  uint64
		want verdict
	}{
		{a, 2, vUnknown},   // a session is only entered at 1
		{a, 1, vDeliver},   // ...
		{a, 1, vDuplicate}, // (not delivered above: the test does not advance)
	}
	for i, st := range steps[:2] {
		if got := rs.classify(st.s, st.seq); got != st.want {
			t.Fatalf("step %d: %v, want %v", i, got, st.want)
		}
	}
	rs.next++ // delivered 1
	for seq, want := range map[uint64]verdict{1: vDuplicate, 3: vGap, 2: vDeliver} {
		if got := rs.classify(a, seq); got != want {
			t.Fatalf("a/%d: %v, want %v", seq, got, want)
		}
	}
	rs.next = 1000 // a long session
	// A restarted sender (clock stepped back or not) starts a new session at
	// 1, whatever its id: it is accepted and the old one retired.
	if got := rs.classify(b, 1); got != vDeliver || rs.next != 1 {
		t.Fatalf("new session: %v next %d", got, rs.next)
	}
	rs.next++
	if got := rs.classify(a, 1); got != vStale {
		t.Fatalf("late frame of the retired session: %v, want stale", got)
	}
	if got := rs.classify(a, 1000); got != vStale {
		t.Fatalf("late frame of the retired session: %v, want stale", got)
	}
	if got := rs.classify(b, 2); got != vDeliver {
		t.Fatalf("new session continues: %v", got)
	}
}

// Session ids come from crypto/rand: distinct on every call, never zero.
func TestSessionIDsRandom(t *testing.T) {
	seen := map[sessionID]bool{}
	for range 10000 {
		s := newSessionID()
		if s == (sessionID{}) || seen[s] {
			t.Fatalf("session id %s repeated or zero", s)
		}
		seen[s] = true
	}
}

// FuzzReceiverSession drives a receiver record with frames that a sender
// could produce over breaking connections (retransmissions from the first
// unacknowledged, duplicates, losses, late frames of an earlier session) and
// checks that what it delivers is exactly 1, 2, 3, ... of the current
// session.
func FuzzReceiverSession(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5})
	f.Add([]byte{3, 3, 0, 200, 1, 7, 9, 2, 2})
	f.Add([]byte{255, 0, 128, 1, 64, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		old, cur := sessionID{9}, sessionID{3}
		var rs recvSession
		// The old session ran for a while.
		for seq := uint64(1); seq <= 5; seq++ {
			if rs.classify(old, seq) == vDeliver {
				rs.next++
			}
		}
		var sent, delivered uint64 // the sender has sent 1..sent of cur; delivered so far
		for _, op := range ops {
			var s sessionID
			var seq uint64
			switch {
			case op >= 240: // a late copy of a frame of the old session
				s, seq = old, uint64(op-240)%5+1
			case op >= 120: // a new frame (the next number)
				sent++
				s, seq = cur, sent
			default: // a retransmission of any number sent so far (or the first)
				s, seq = cur, uint64(op)%(sent+1)+1
				if seq > sent {
					sent = seq
				}
			}
			switch v := rs.classify(s, seq); v {
			case vDeliver:
				if s != cur || seq != delivered+1 {
					t.Fatalf("delivered %x/%d after %d", s[:1], seq, delivered)
				}
				delivered++
				rs.next++
			case vDuplicate:
				if s == cur && seq > delivered {
					t.Fatalf("%d called a duplicate with %d delivered", seq, delivered)
				}
			case vGap:
				if seq <= delivered+1 {
					t.Fatalf("%d called a gap with %d delivered", seq, delivered)
				}
			}
		}
	})
}

// A node restarted with the same node id and address (a new run: new
// instance, new session id, numbering from 1 again) has its messages
// delivered; nothing from the earlier run collides with them.
func TestReliableAfterSenderRestart(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	tx, rx := nodes[0], nodes[1]
	var got []int64
	_ = rx.Handle(320, func(m Message) {
		if m.Sender.ID == "n0" {
			got = append(got, m.Payload.(int64))
		}
	})
	for i := int64(0); i < 500; i++ {
		if err := tx.SendTo(context.Background(), "n1", 320, i, true, -1); err != nil {
			t.Fatal(err)
		}
	}
	pump(t, rx, 10*time.Second, "the first run's messages", func() bool { return len(got) == 500 })
	addr := tx.LocalNode().Addr
	firstInstance := tx.instance
	tx.Stop()
	cfg := testConfig("n0")
	cfg.BindAddr = addr
	tx2 := startNode(t, cfg)
	if tx2.instance == firstInstance {
		t.Fatal("the restarted node has the same instance")
	}
	if _, err := tx2.Join(context.Background(), []string{rx.LocalNode().Addr}); err != nil {
		t.Fatal(err)
	}
	pump(t, rx, 20*time.Second, "the restarted node alive", func() bool {
		p := rx.peers.get("n0")
		return p != nil && p.state == StateAlive && p.header != nil && p.header.instance == tx2.instance
	})
	for i := int64(500); i < 1000; i++ {
		if err := tx2.SendTo(context.Background(), "n1", 320, i, true, -1); err != nil {
			t.Fatalf("after restart, message %d: %v", i, err)
		}
	}
	pump(t, rx, 10*time.Second, "the second run's messages", func() bool { return len(got) == 1000 })
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("message %d is %d", i, v)
		}
	}
}
