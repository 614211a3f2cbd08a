package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Figure 7: metadata propagation. One node of N sets a value; the time
// runs until every other node sees it. Several trials per round; p50 and
// p99 are taken over all trials. memberlist's node metadata (UpdateNode
// with NodeMeta) is the baseline for small values; it is capped at 512
// bytes per node, so its value is the largest that fits, not 1 KiB, and
// there is no memberlist baseline for 64 KiB.
func runMetadata(b *bench) error {
	n, trials := 32, 5
	if b.quick {
		n, trials = 4, 1
	}
	const baseSize = 480
	for _, size := range []int{1 << 10, 64 << 10} {
		var ours, base []float64
		for r := 0; r < b.rounds; r++ {
			v, err := metaOurs(n, size, trials)
			if err != nil {
				return fmt.Errorf("%s: %w", sizeName(size), err)
			}
			b.log("  round %d %-10s %s", r+1, "ours", fmtVals(v))
			ours = append(ours, v...)
			if size > 1024 {
				continue
			}
			v, err = metaBase(n, baseSize, trials)
			if err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			b.log("  round %d %-10s %s", r+1, "memberlist", fmtVals(v))
			base = append(base, v...)
		}
		name := fmt.Sprintf("metadata %s to all, N=%d", sizeName(size), n)
		if base != nil {
			name = fmt.Sprintf("metadata %s (memberlist: %d B NodeMeta) to all, N=%d", sizeName(size), baseSize, n)
			b.add(name+", p50", "s", cost, []float64{percentile(ours, 50)}, []float64{percentile(base, 50)})
			b.add(name+", p99", "s", cost, []float64{percentile(ours, 99)}, []float64{percentile(base, 99)})
		} else {
			b.add(name+", p50", "s", cost, []float64{percentile(ours, 50)}, nil)
			b.add(name+", p99", "s", cost, []float64{percentile(ours, 99)}, nil)
		}
	}
	return nil
}

// metaValue is a value of size bytes that differs per trial.
func metaValue(trial, size int) string {
	head := fmt.Sprintf("trial-%d-%d-", trial, time.Now().UnixNano())
	return head + strings.Repeat("m", max(size-len(head), 0))
}

func metaOurs(n, size, trials int) ([]float64, error) {
	nodes, err := cluster(oursSide, n, lan)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	owner := nodes[0].(*ourNode)
	var out []float64
	for t := range trials {
		v := metaValue(t, size)
		t0 := time.Now()
		if err := owner.c.SetMetadata("blob", v); err != nil {
			return nil, err
		}
		pending := map[int]bool{}
		for i := 1; i < n; i++ {
			pending[i] = true
		}
		err := waitUntil(30*time.Second, 5*time.Millisecond, "metadata everywhere", func() bool {
			for i := range pending {
				for _, x := range nodes[i].(*ourNode).c.Nodes() {
					if x.ID == owner.ID() && x.Metadata["blob"] == v {
						delete(pending, i)
					}
				}
			}
			return len(pending) == 0
		})
		if err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0).Seconds())
	}
	return out, nil
}

func metaBase(n, size, trials int) ([]float64, error) {
	nodes, err := cluster(baseSide, n, lan)
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	owner := nodes[0].(*baseNode)
	var out []float64
	for t := range trials {
		v := []byte(metaValue(t, size))
		seen := make([]chan struct{}, 0, n-1)
		for _, x := range nodes[1:] {
			seen = append(seen, x.(*baseNode).ev.expect(owner.ID(), v))
		}
		owner.d.meta.Store(&v)
		t0 := time.Now()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = owner.ml.UpdateNode(10 * time.Second)
		}()
		deadline := time.After(30 * time.Second)
		for _, ch := range seen {
			select {
			case <-ch:
			case <-deadline:
				wg.Wait()
				return nil, fmt.Errorf("memberlist metadata did not reach every node in 30 s")
			}
		}
		out = append(out, time.Since(t0).Seconds())
		wg.Wait()
	}
	return out, nil
}
