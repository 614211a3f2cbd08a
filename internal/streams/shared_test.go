package streams

import (
	"sync/atomic"
	"testing"
	"time"
)

// SendAsyncShared writes the caller's bytes without copying them, in order
// with Send, and reports each frame's outcome to its done callback.
func TestSendAsyncSharedInOrderWithSend(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{})
	_, addrB := newNode(t, Config{Handler: got.handle})

	const n = 3000
	var done, failed atomic.Int64
	for i := 0; i < n; i++ {
		frame := seqFrame(0, uint32(i), 200)
		var err error
		if i%4 == 3 {
			err = a.Send(addrB, frame)
		} else {
			err = a.SendAsyncShared(addrB, frame, func(err error) {
				if err != nil {
					failed.Add(1)
				}
				done.Add(1)
			})
		}
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	waitFor(t, 20*time.Second, "all frames", func() bool { return got.count() >= n })
	if err := checkInOrder(got.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "every done callback", func() bool { return done.Load() == n-n/4 })
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d frames reported failed", f)
	}
}

// Ready is true only while a Send would write at once on an open stream:
// not before the first dial, not once the stream is closed, not after
// Shutdown.
func TestReadyOnlyWithAnOpenIdleStream(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{})
	_, addrB := newNode(t, Config{Handler: got.handle})

	if a.Ready(addrB) {
		t.Fatal("Ready before any stream was dialled")
	}
	if err := a.Send(addrB, seqFrame(0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if !a.Ready(addrB) {
		t.Fatal("not Ready after a Send completed on a new stream")
	}
	a.ClosePeer(addrB)
	if a.Ready(addrB) {
		t.Fatal("Ready after the stream was closed")
	}
	if err := a.Send(addrB, seqFrame(0, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if !a.Ready(addrB) {
		t.Fatal("not Ready after the stream was dialled again")
	}
	_ = a.Shutdown()
	if a.Ready(addrB) {
		t.Fatal("Ready after Shutdown")
	}
}
