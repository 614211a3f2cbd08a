package streams

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// Senders run in parallel with this many goroutines per CPU, in both the
// stream and the memberlist benchmarks, so the numbers compare directly.
const benchParallelism = 8

// runThroughput drives send b.N times (in parallel when parallel is set),
// waits until received reports all frames arrived, and reports frames/s
// and MB/s over the whole interval.
func runThroughput(b *testing.B, size int, parallel bool, send func([]byte) error, received func() int64) {
	b.Helper()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	base := received()
	start := time.Now()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			frame := make([]byte, size)
			for pb.Next() {
				if err := send(frame); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		frame := make([]byte, size)
		for i := 0; i < b.N; i++ {
			if err := send(frame); err != nil {
				b.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for received()-base < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d frames arrived", received()-base, b.N)
		}
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}

func benchStreams(b *testing.B, size int, parallel bool, cfg Config) {
	var n atomic.Int64
	cfgB := cfg
	cfgB.Handler = func(net.Addr, []byte) { n.Add(1) }
	a, _ := newNode(b, cfg)
	_, addrB := newNode(b, cfgB)
	if err := a.Send(addrB, make([]byte, size)); err != nil { // connect
		b.Fatal(err)
	}
	waitFor(b, 5*time.Second, "warm-up frame", func() bool { return n.Load() == 1 })
	runThroughput(b, size, parallel, func(f []byte) error { return a.Send(addrB, f) }, n.Load)
}

func BenchmarkSend100B(b *testing.B)       { benchStreams(b, 100, true, Config{}) }
func BenchmarkSend100BSerial(b *testing.B) { benchStreams(b, 100, false, Config{}) }
func BenchmarkSend10KiB(b *testing.B)      { benchStreams(b, 10<<10, true, Config{}) }

func BenchmarkSend100BEncrypted(b *testing.B) {
	kr, err := memberlist.NewKeyring(nil, make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	benchStreams(b, 100, true, Config{Keyring: kr})
}

func BenchmarkSendAsync100B(b *testing.B) {
	var n atomic.Int64
	a, _ := newNode(b, Config{})
	_, addrB := newNode(b, Config{Handler: func(net.Addr, []byte) { n.Add(1) }})
	runThroughput(b, 100, false, func(f []byte) error { return a.SendAsync(addrB, f, nil) }, n.Load)
}

// benchMemberlist measures memberlist's SendReliable between two real
// nodes, counting arrivals in NotifyMsg.
func benchMemberlist(b *testing.B, size int, parallel bool) {
	var dA, dB benchDelegate
	ntA, _ := newNet(b, 0)
	ntB, _ := newNet(b, 0)
	mlA := newMemberlist(b, "a", ntA, &dA)
	mlB := newMemberlist(b, "b", ntB, &dB)
	if _, err := mlA.Join([]string{mlB.LocalNode().Address()}); err != nil {
		b.Fatal(err)
	}
	var nodeB *memberlist.Node
	waitFor(b, 10*time.Second, "join", func() bool {
		for _, m := range mlA.Members() {
			if m.Name == "b" && m.State == memberlist.StateAlive {
				nodeB = m
				return true
			}
		}
		return false
	})
	runThroughput(b, size, parallel, func(f []byte) error { return mlA.SendReliable(nodeB, f) }, dB.n.Load)
}

func BenchmarkMemberlistSendReliable100B(b *testing.B)       { benchMemberlist(b, 100, true) }
func BenchmarkMemberlistSendReliable100BSerial(b *testing.B) { benchMemberlist(b, 100, false) }

type benchDelegate struct{ n atomic.Int64 }

func (d *benchDelegate) NodeMeta(int) []byte             { return nil }
func (d *benchDelegate) NotifyMsg([]byte)                { d.n.Add(1) }
func (d *benchDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *benchDelegate) LocalState(bool) []byte          { return nil }
func (d *benchDelegate) MergeRemoteState([]byte, bool)   {}
