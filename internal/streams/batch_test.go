package streams

import (
	"errors"
	"testing"
	"time"
)

// SendBatch keeps the order of its frames and of Send calls around it,
// both when the queue takes the whole batch at once and when it is too
// small for it and the frames go one by one; an oversize frame refuses the
// whole batch.
func TestSendBatchInOrder(t *testing.T) {
	const rounds = 50
	n := 0
	for round := 0; round < rounds; round++ {
		n += 1 + round%20 + 1
	}
	for _, queue := range []int{0, 5} { // default, and smaller than a batch
		var got collector
		a, _ := newNode(t, Config{QueueFrames: queue})
		_, addrB := newNode(t, Config{Handler: got.handle, MaxFrameSize: 1000})
		// A second sender keeps the queue busy, so that with the small
		// queue batches often find no room for all their frames.
		type result struct {
			sent int
			err  error
		}
		other := make(chan result, 1)
		stop := make(chan struct{})
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					other <- result{i, nil}
					return
				default:
				}
				if err := a.SendAsync(addrB, seqFrame(1, uint32(i), 50), nil); err != nil {
					other <- result{i, err}
					return
				}
			}
		}()
		seq := uint32(0)
		for round := 0; round < rounds; round++ {
			batch := make([][]byte, 1+round%20)
			for i := range batch {
				batch[i] = seqFrame(0, seq, 100)
				seq++
			}
			if err := a.SendBatch(addrB, batch); err != nil {
				t.Fatalf("queue %d, batch %d: %v", queue, round, err)
			}
			if err := a.Send(addrB, seqFrame(0, seq, 10)); err != nil {
				t.Fatal(err)
			}
			seq++
		}
		close(stop)
		res := <-other
		if res.err != nil {
			t.Fatal(res.err)
		}
		waitFor(t, 10*time.Second, "all frames", func() bool { return got.count() >= n+res.sent })
		next := [2]int{}
		for _, f := range got.snapshot() {
			id, seq := parseSeq(f)
			if int(seq) != next[id] {
				t.Fatalf("queue %d, sender %d: got seq %d, want %d", queue, id, seq, next[id])
			}
			next[id]++
		}
		if next != [2]int{n, res.sent} {
			t.Fatalf("queue %d: got %v frames, want [%d %d]", queue, next, n, res.sent)
		}
	}
	a, _ := newNode(t, Config{MaxFrameSize: 100})
	_, addrB := newNode(t, Config{})
	if err := a.SendBatch(addrB, [][]byte{make([]byte, 10), make([]byte, 101)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversize frame in a batch: %v", err)
	}
	if s := a.Stats(); s.FramesSent != 0 || s.SendErrors != 2 {
		t.Fatalf("stats after a refused batch: %+v", s)
	}
}
