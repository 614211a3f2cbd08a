package streams

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Drained comes once a burst of frames has been handed to the handler, in
// both formats: a call sees every frame of the burst handled, and a burst
// written at once costs far fewer calls than it has frames.
func TestDrainedAfterBurst(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		var handled, calls, sawAll atomic.Int64
		const frames = 100
		cfg := Config{
			Handler: func(net.Addr, []byte) { handled.Add(1) },
			Drained: func(net.Addr) {
				calls.Add(1)
				if handled.Load() == frames {
					sawAll.Store(1)
				}
			},
		}
		var acfg Config
		if sealed {
			cfg.Keyring, acfg.Keyring = keyring(t, key(1)), keyring(t, key(1))
		}
		a, _ := newNode(t, acfg)
		_, addrB := newNode(t, cfg)
		batch := make([][]byte, frames)
		for i := range batch {
			batch[i] = seqFrame(0, uint32(i), 20)
		}
		if err := a.SendBatch(addrB, batch); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "a Drained call after every frame was handled", func() bool { return sawAll.Load() == 1 })
		if n := calls.Load(); n >= frames/2 {
			t.Errorf("sealed=%v: %d Drained calls for a burst of %d frames, want far fewer", sealed, n, frames)
		}
	}
}
