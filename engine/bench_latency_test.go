package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchPair starts two joined nodes on loopback for a benchmark; the
// second one's handlers are pumped on a goroutine of its own, as an
// application's main loop would. Both stop when the benchmark ends.
func benchPair(b *testing.B, handle func(Message)) (tx, rx *Cluster) {
	return benchPairKey(b, "", handle)
}

// benchPairKey is benchPair with an encryption key (streams sealed).
func benchPairKey(b *testing.B, key string, handle func(Message)) (tx, rx *Cluster) {
	b.Helper()
	nodes := make([]*Cluster, 2)
	for i := range nodes {
		cfg := testConfig(fmt.Sprintf("b%d", i))
		cfg.Profile = ProfileLAN
		cfg.EncryptionKey = key
		c, err := New(cfg)
		if err == nil {
			err = c.Start()
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.stop(false) })
		nodes[i] = c
	}
	if _, err := nodes[1].Join(context.Background(), []string{nodes[0].LocalNode().Addr}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for nodes[0].NumAlive() != 2 || nodes[1].NumAlive() != 2 {
		if time.Now().After(deadline) {
			b.Fatal("the two nodes did not see each other alive within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tx, rx = nodes[0], nodes[1]
	if err := rx.Handle(MinUserMessageType, handle); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = rx.Wait(context.Background(), 20*time.Millisecond)
		}
	}()
	b.Cleanup(func() { close(stop); <-done })
	return tx, rx
}

// BenchmarkReliableLatency sends one reliable 100-byte message at a time
// and waits for the receiver's handler to run before the next. It reports
// the time from the SendTo call until the handler ran (mean, p50, p99) and
// how long the call itself took (p50); ns/op is the whole round.
func BenchmarkReliableLatency(b *testing.B) {
	var handledAt atomic.Int64
	signal := make(chan struct{}, 1)
	tx, rx := benchPair(b, func(Message) {
		handledAt.Store(time.Now().UnixNano())
		select {
		case signal <- struct{}{}:
		default:
		}
	})
	payload := []any{int64(1), strings.Repeat("x", 88)} // about 100 bytes, as gossip-bench sends
	ctx := context.Background()
	// Warm the stream up: the first message dials and handshakes.
	if err := tx.SendTo(ctx, rx.id, MinUserMessageType, payload, true, -1); err != nil {
		b.Fatal(err)
	}
	<-signal
	toHandler := make([]time.Duration, 0, 1024)
	calls := make([]time.Duration, 0, 1024)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := tx.SendTo(ctx, rx.id, MinUserMessageType, payload, true, -1); err != nil {
			b.Fatal(err)
		}
		calls = append(calls, time.Since(t0))
		select {
		case <-signal:
		case <-time.After(5 * time.Second):
			b.Fatal("a message did not reach the handler within 5 s")
		}
		toHandler = append(toHandler, time.Duration(handledAt.Load()-t0.UnixNano()))
	}
	b.StopTimer()
	var sum time.Duration
	for _, d := range toHandler {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(toHandler)), "ns-to-handler")
	b.ReportMetric(float64(quantile(toHandler, 0.50)), "p50-ns-to-handler")
	b.ReportMetric(float64(quantile(toHandler, 0.99)), "p99-ns-to-handler")
	b.ReportMetric(float64(quantile(calls, 0.50)), "p50-ns-call")
}

// quantile is the q-quantile of ds (sorted in place).
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1))]
}

// BenchmarkReliableThroughput sends reliable messages to one node as fast
// as Send lets it and waits until the handler saw them all; msg/s is the
// rate over the whole run.
func BenchmarkReliableThroughput(b *testing.B) {
	for _, c := range []struct {
		size int
		key  string
	}{{100, ""}, {10 << 10, ""}, {100, "0123456789abcdef"}} {
		size := c.size
		name := fmt.Sprintf("%dB", size)
		if c.key != "" {
			name += "-sealed"
		}
		b.Run(name, func(b *testing.B) {
			var got atomic.Int64
			tx, _ := benchPairKey(b, c.key, func(Message) { got.Add(1) })
			payload := []any{int64(1), strings.Repeat("x", size-12)}
			ctx := context.Background()
			b.SetBytes(int64(size))
			t0 := time.Now()
			n := int64(0)
			for b.Loop() {
				if err := tx.Send(ctx, MinUserMessageType, payload, true, -1); err != nil {
					b.Fatal(err)
				}
				n++
			}
			deadline := time.Now().Add(60 * time.Second)
			for got.Load() < n {
				if time.Now().After(deadline) {
					b.Fatalf("the handler saw %d of %d messages within 60 s", got.Load(), n)
				}
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "msg/s")
		})
	}
}
