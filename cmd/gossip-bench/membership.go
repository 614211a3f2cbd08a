package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"
)

// Figures 1 and 10: convergence after joins and heap per idle node.
// Nodes are started unjoined (not timed), then all join the first one at
// once; the time runs until every node sees all N alive. Both the median
// and the worst round are reported: a lost gossip message stalls a round
// until a push/pull repairs it, which only the worst round shows. With
// -burn the rounds run again under the CPU burner (burner.go), where such
// losses happen. The heap is measured at the largest N after an idle
// period, once it stopped falling (restingHeap), with a GC before and
// after, divided by N (unloaded only), over at least minHeapRounds rounds:
// the median and the worst round.
func runConvergence(b *bench) error {
	sizes := convSizes
	idle := 20 * time.Second // longer than the engine's stream idle timeout
	if b.quick {
		sizes, idle = []int{4}, 200*time.Millisecond
	}
	if *heapProfile != "" {
		runtime.MemProfileRate = 4096 // fine enough to see per-node structures
	}
	baseGoroutines = runtime.NumGoroutine() + 2 // slack for the runtime's own
	if !b.quick {
		// One unmeasured cluster of each side at the largest N first: the
		// first cluster a process runs leaves 1 to 3 MiB live for good
		// (caches and runtime tables sized to it), which the first
		// measured round, always the engine's, was charged with (about
		// 10 KiB per node at N = 128).
		n := sizes[len(sizes)-1]
		for _, s := range []side{oursSide, baseSide} {
			if _, _, err := convergeOnce(s, n, false, 0, b.log); err != nil {
				return fmt.Errorf("warm-up, %s: %w", s.name, err)
			}
		}
		baseHeap = math.MaxUint64 >> 1 // wait for the goroutines alone
		settledHeap(true)
		b.log("  warm-up done")
	}
	baseHeap, _ = restingHeap(nil, 0)
	for _, n := range sizes {
		last := n == sizes[len(sizes)-1]
		rounds := b.rounds
		if last && !b.quick {
			b.rounds = max(b.rounds, minHeapRounds)
		}
		ours, base, err := b.compare(func(s side) ([]float64, error) {
			secs, heap, err := convergeOnce(s, n, last, idle, b.log)
			return []float64{secs, heap}, err
		})
		b.rounds = rounds
		if err != nil {
			return fmt.Errorf("cluster size %d: %w", n, err)
		}
		b.addConvergence(fmt.Sprintf("N=%d", n), ours[0], base[0])
		b.series["convergence ours"] = append(b.series["convergence ours"], point{float64(n), median(ours[0])})
		b.series["convergence memberlist"] = append(b.series["convergence memberlist"], point{float64(n), median(base[0])})
		if last {
			b.add(fmt.Sprintf("heap per idle node, N=%d", n), "KiB", cost, ours[1], base[1])
			b.add(fmt.Sprintf("worst heap per idle node, N=%d", n), "KiB", cost, []float64{slices.Max(ours[1])}, []float64{slices.Max(base[1])})
		}
	}
	if !b.burn {
		return nil
	}
	stop, err := startBurner()
	if err != nil {
		return err
	}
	defer stop()
	b.log("  CPU burner on")
	for _, n := range sizes {
		ours, base, err := b.compare(func(s side) ([]float64, error) {
			secs, _, err := convergeOnce(s, n, false, 0, b.log)
			return []float64{secs}, err
		})
		if err != nil {
			return fmt.Errorf("cluster size %d, CPU burner: %w", n, err)
		}
		b.addConvergence(fmt.Sprintf("CPU burner, N=%d", n), ours[0], base[0])
	}
	return nil
}

// minHeapRounds is the fewest rounds the heap figure is the median of
// (outside -quick), whatever -rounds says: one round's heap varies with
// what the cluster did just before it went idle.
const minHeapRounds = 3

// addConvergence records the median and the worst round of convergence.
func (b *bench) addConvergence(what string, ours, base []float64) {
	b.add("convergence after joins, "+what, "s", cost, ours, base)
	b.add("worst convergence after joins, "+what, "s", cost, []float64{slices.Max(ours)}, []float64{slices.Max(base)})
}

// convTimeout bounds one convergence measurement; it outlasts memberlist's
// push/pull period at N = 128 (30 s scaled to 90 s), which repairs a lost
// alive broadcast.
var convTimeout = 150 * time.Second

func convergeOnce(s side, n int, heap bool, idle time.Duration, logf func(string, ...any)) (float64, float64, error) {
	var before uint64
	if heap {
		settledHeap(true)
		// What earlier rounds stopped can still be on its way out (a
		// stopped memberlist node lives until its suspicion timers fire):
		// counting its release against this round lowered a round by up
		// to 25 KiB per node. Wait for that too.
		before, _ = restingHeap(nil, 0)
	}
	nodes, err := startNodes(s, n, lan)
	if err != nil {
		return 0, 0, err
	}
	defer stopNodes(nodes)
	t0 := time.Now()
	if err := joinAll(nodes); err != nil {
		return 0, 0, err
	}
	if err := waitUntil(convTimeout, 5*time.Millisecond, "convergence", func() bool { return allAlive(nodes, n) }); err != nil {
		return 0, 0, fmt.Errorf("%w (members seen: %v)", err, aliveCounts(nodes))
	}
	secs := time.Since(t0).Seconds()
	kib := 0.0
	if heap {
		deadline := time.Now().Add(idle)
		for time.Now().Before(deadline) {
			allAlive(nodes, n) // runs queued handlers, as an application would
			time.Sleep(50 * time.Millisecond)
		}
		idleHeap, waited := restingHeap(nodes, n)
		kib = (float64(idleHeap) - float64(before)) / float64(n) / 1024
		logf("    %s: heap before the round %+.1f MiB from the start; at rest %.0fs after the idle period",
			s.name, float64(int64(before)-int64(baseHeap))/(1<<20), waited.Seconds())
		if err := writeHeapProfile(s); err != nil {
			return 0, 0, err
		}
	}
	return secs, kib, nil
}

// restingHeap is the live heap of idle nodes once it stopped falling: the
// reading after a GC taken when for restQuiet no reading fell more than 1%
// below the lowest one (at most restMax). A side still working
// through a backlog when the idle period ends (memberlist's NetTransport
// holds a 64 KiB buffer per queued UDP packet; a loaded round was measured
// at 2,223 KiB per node for this) is measured once it has worked through
// it, as an idle node is; both sides wait the same way. With no nodes it
// is the heap between rounds once what earlier rounds stopped is gone.
func restingHeap(nodes []node, n int) (uint64, time.Duration) {
	const restQuiet, restMax = 5 * time.Second, 60 * time.Second
	t0 := time.Now()
	h := settledHeap(false)
	low, lowAt := h, time.Now()
	for time.Since(lowAt) < restQuiet && time.Since(t0) < restMax {
		if nodes != nil {
			allAlive(nodes, n)
		}
		time.Sleep(500 * time.Millisecond)
		h = settledHeap(false)
		if h*100 < low*99 {
			lowAt = time.Now()
		}
		low = min(low, h)
	}
	return h, time.Since(t0)
}

// settledHeap is the live heap once it has settled: two readings after
// a GC agree within 1%. With noNodes (before a round's nodes start) it also
// waits, for at most a minute, until what earlier rounds stopped is gone:
// the goroutines back to what the scenario started with and the heap back
// within 4 MiB of it (baseGoroutines, baseHeap). memberlist's suspicion
// timers (up to about 50 s at N = 128) keep a stopped node, and with it
// the engine's, alive until they fire; counting that memory as the next
// round's, or its release against it, swung single rounds from negative
// to double.
func settledHeap(noNodes bool) uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	last := m.HeapAlloc
	for range 600 {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&m)
		diff := int64(m.HeapAlloc) - int64(last)
		last = m.HeapAlloc
		if diff < 0 {
			diff = -diff
		}
		gone := !noNodes || (runtime.NumGoroutine() <= baseGoroutines && last <= baseHeap+4<<20)
		if uint64(diff)*100 <= last && gone {
			break
		}
	}
	return last
}

// baseGoroutines and baseHeap are the goroutines and the live heap with no
// node up, when the scenario starts.
var (
	baseGoroutines int
	baseHeap       uint64
)

// heapProfile names a file for heap profiles of the idle nodes, taken
// where the heap figure is measured: FILE.ours.R and FILE.memberlist.R for
// round R (-heap-profile; read with go tool pprof -sample_index=inuse_space).
var heapProfile = flag.String("heap-profile", "", "write heap profiles of the idle nodes to FILE.ours.R and FILE.memberlist.R")

// heapRounds counts the heap profiles written per side.
var heapRounds = map[string]int{}

func writeHeapProfile(s side) error {
	if *heapProfile == "" {
		return nil
	}
	heapRounds[s.name]++
	f, err := os.Create(fmt.Sprintf("%s.%s.%d", *heapProfile, s.name, heapRounds[s.name]))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// Figure 2: failure detection. A converged cluster's last node is killed
// (silenced, as in a crash); the time runs until every other node
// considers it dead. The LAN profile runs at each N, the fast profile at
// the largest.
func runFailureDetection(b *bench) error {
	sizes := []int{8, 32}
	if b.quick {
		sizes = []int{4}
	}
	for _, n := range sizes {
		ours, base, err := b.compare(func(s side) ([]float64, error) {
			secs, err := detectOnce(s, n, lan)
			return []float64{secs}, err
		})
		if err != nil {
			return fmt.Errorf("cluster size %d: %w", n, err)
		}
		b.add(fmt.Sprintf("failure detection, N=%d", n), "s", cost, ours[0], base[0])
		b.series["failure detection ours"] = append(b.series["failure detection ours"], point{float64(n), median(ours[0])})
		b.series["failure detection memberlist"] = append(b.series["failure detection memberlist"], point{float64(n), median(base[0])})
	}
	n := sizes[len(sizes)-1]
	ours, base, err := b.compare(func(s side) ([]float64, error) {
		secs, err := detectOnce(s, n, fast)
		return []float64{secs}, err
	})
	if err != nil {
		return fmt.Errorf("fast profile, N=%d: %w", n, err)
	}
	b.add(fmt.Sprintf("failure detection, fast profile, N=%d", n), "s", cost, ours[0], base[0])
	return nil
}

func detectOnce(s side, n int, p profile) (float64, error) {
	nodes, err := cluster(s, n, p)
	if err != nil {
		return 0, err
	}
	defer stopNodes(nodes)
	victim, others := nodes[n-1], nodes[:n-1]
	victim.Kill()
	t0 := time.Now()
	err = waitUntil(120*time.Second, 10*time.Millisecond, "the killed node reported dead everywhere", func() bool {
		for _, o := range others {
			if !o.SeesDead(victim.ID()) {
				return false
			}
		}
		return true
	})
	return time.Since(t0).Seconds(), err
}

// The fast profile under 10% packet loss (every node drops a tenth of its
// outgoing UDP packets): no node may be reported dead while all are up.
// One round per side, it is long.
func runFastLoss(b *bench) error {
	n, hold := 32, 60*time.Second
	if b.quick {
		n, hold = 6, 2*time.Second
	}
	var ours, base []float64
	for _, s := range []side{oursSide, baseSide} {
		nodes, err := cluster(s, n, fast)
		if err != nil {
			return err
		}
		for _, x := range nodes {
			switch x := x.(type) {
			case *ourNode:
				x.tr.SetLoss(0.10)
			case *baseNode:
				x.tr.SetLoss(0.10)
			}
		}
		deadline := time.Now().Add(hold)
		for time.Now().Before(deadline) {
			allAlive(nodes, n)
			time.Sleep(100 * time.Millisecond)
		}
		deaths := 0.0
		for _, x := range nodes {
			switch x := x.(type) {
			case *ourNode:
				x.c.Dispatch()
				deaths += float64(x.deaths.Load())
			case *baseNode:
				deaths += float64(x.ev.dead.Load())
			}
		}
		stopNodes(nodes)
		b.log("  %-10s false dead reports: %v", s.name, deaths)
		if s.name == oursSide.name {
			ours = append(ours, deaths)
		} else {
			base = append(base, deaths)
		}
	}
	b.add(fmt.Sprintf("false dead, fast profile, 10%% loss, N=%d, %v", n, hold), "reports", cost, ours, base)
	return nil
}

// aliveCounts lists what each node sees, for error messages.
func aliveCounts(nodes []node) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n.Alive()
	}
	return out
}
