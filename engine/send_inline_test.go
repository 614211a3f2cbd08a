package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/faultnet"
)

// A SendTo to an idle destination writes its message on the caller's
// goroutine, and then only a timer watches for the acknowledgement (see
// senderTable.writeInline). A message or an acknowledgement lost on the
// way must still be retransmitted and delivered exactly once, in order,
// with the SendTo confirmed.
func TestSendToInlineLostFrameIsRetransmitted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lossy func(addrs []string) (from, to string)
	}{
		{"message lost", func(a []string) (string, string) { return a[0], a[1] }},
		{"acknowledgement lost", func(a []string) (string, string) { return a[1], a[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := newFaultNet(t)
			nodes, addrs := faultCluster(t, fn, 2)
			tx, rx := nodes[0], nodes[1]
			var got []int64
			_ = rx.Handle(faultMsgType, func(m Message) { got = append(got, m.Payload.(int64)) })
			ctx := context.Background()
			// The first messages dial the streams both ways (messages one
			// way, acknowledgements the other); the next one finds its
			// stream connected and idle and is written inline.
			for i := int64(0); i < 3; i++ {
				if err := tx.SendTo(ctx, "f1", faultMsgType, i, true, 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			from, to := tc.lossy(addrs)
			dropped := fn.Stats().StreamWritesDropped
			fn.SetLinkStreamFaults(from, to, faultnet.StreamFaults{Drop: 1})
			sent := make(chan error, 1)
			go func() { sent <- tx.SendTo(ctx, "f1", faultMsgType, int64(3), true, 30*time.Second) }()
			waitFor(t, 10*time.Second, "a write dropped", func() bool { return fn.Stats().StreamWritesDropped > dropped })
			fn.ClearLinkFaults(from, to)
			select {
			case err := <-sent:
				if err != nil {
					t.Fatalf("SendTo after a lost frame: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("SendTo after a lost frame did not return within 30 s")
			}
			if err := tx.SendTo(ctx, "f1", faultMsgType, int64(4), true, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			pump(t, rx, 10*time.Second, "every message handled", func() bool { return len(got) >= 5 })
			rx.Dispatch()
			if want := []int64{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
				t.Fatalf("handled %v, want %v", got, want)
			}
			if s := tx.Stats(); s.ReliableRetransmits == 0 || s.ReliableFailed != 0 {
				t.Fatalf("want a retransmission and no failure; sender stats: %+v", s)
			}
		})
	}
}
