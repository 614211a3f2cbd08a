package engine

import "testing"

// TestQueueTrimIdle checks that an idle queue gives back the array a burst
// grew, and that a queue still holding events keeps it and its events.
func TestQueueTrimIdle(t *testing.T) {
	q := newEventQueue(1024, func() {})
	for i := range 200 {
		q.push(event{kind: evState, nodeID: "n", state: "alive", msgType: i}, pushForce)
	}
	q.trimIdle()
	if got := q.depth(); got != 200 {
		t.Fatalf("trimming a busy queue left %d of 200 events", got)
	}
	got := make([]event, 300)
	if n := q.popInto(got[:150]) + q.popInto(got[150:]); n != 200 {
		t.Fatalf("popped %d of 200 events", n)
	}
	for i := range 200 {
		if got[i].msgType != i {
			t.Fatalf("event %d came out as %d", i, got[i].msgType)
		}
	}
	if cap(q.items) <= keepEvents {
		t.Fatalf("the burst should have grown the queue past %d, cap %d", keepEvents, cap(q.items))
	}
	q.trimIdle()
	if cap(q.items) > keepEvents {
		t.Errorf("an idle queue kept room for %d events, want at most %d", cap(q.items), keepEvents)
	}
	if !q.push(event{kind: evMessage, msgType: 7}, pushDrop) {
		t.Fatal("push after trimming refused")
	}
	if n := q.popInto(got); n != 1 || got[0].msgType != 7 || q.messages() != 0 {
		t.Errorf("pop after trimming: %d events, type %d, %d messages left", n, got[0].msgType, q.messages())
	}
}
