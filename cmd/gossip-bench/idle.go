package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Figure: idle CPU per node. N nodes of one side run in one process,
// converge, settle (10 s: the engine's after-join push/pull repairs,
// formation.go, die out within that), then sit idle; the figure is the CPU time the process
// used during the idle window, in CPU seconds per node per minute.
//
// Each side runs in a child process of its own (the bench binary run again
// with idleChildEnv set), so that neither side's leftovers (goroutines
// winding down, garbage to collect) are charged to the other, and the
// parent's own work is charged to neither.
//
// CPU time is read with getrusage(RUSAGE_SELF), user plus system, rather
// than runtime/metrics: /cpu/classes/total is GOMAXPROCS integrated over wall
// time (capacity, not use), and the runtime's user/GC classes leave out the
// kernel time spent sending and receiving packets, which is most of what an
// idle gossip node costs. The process does nothing else in the window: the
// nodes are not polled (no handler runs because no event is expected).

// idleChildEnv makes the binary an idle-CPU child: "side,n,idleSeconds".
const idleChildEnv = "GOSSIP_BENCH_IDLE_CHILD"

// idleProfileEnv, in a child, writes a CPU profile of the idle window.
const idleProfileEnv = "GOSSIP_BENCH_IDLE_PROFILE"

// idleSizes are the cluster sizes of the idle figure.
var idleSizes = []int{16, 64, 128}

func init() {
	if spec := os.Getenv(idleChildEnv); spec != "" {
		if err := idleChild(spec); err != nil {
			fmt.Fprintf(os.Stderr, "gossip-bench idle child: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

func runIdleCPU(b *bench) error {
	sizes, idle, settle := idleSizes, 30*time.Second, 10*time.Second
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "sizes" {
			sizes = convSizes
		}
	})
	if b.quick {
		sizes, idle, settle = []int{4}, 2*time.Second, 500*time.Millisecond
	}
	for _, n := range sizes {
		ours, base, err := b.compare(func(s side) ([]float64, error) {
			v, err := idleOnce(s, n, settle, idle)
			return []float64{v}, err
		})
		if err != nil {
			return fmt.Errorf("cluster size %d: %w", n, err)
		}
		name := fmt.Sprintf("idle CPU per node, N=%d", n)
		b.add(name, "CPU s/min", cost, ours[0], base[0])
		b.add("worst "+name, "CPU s/min", cost, []float64{maxOf(ours[0])}, []float64{maxOf(base[0])})
	}
	return nil
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}

// idleOnce runs one child and returns its CPU seconds per node per minute.
func idleOnce(s side, n int, settle, idle time.Duration) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%g,%g", idleChildEnv, s.name, n, settle.Seconds(), idle.Seconds()))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	cpu, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
	if err != nil {
		return 0, fmt.Errorf("child printed %q: %v", out.String(), err)
	}
	return cpu / float64(n) / idle.Minutes(), nil
}

// idleChild starts the cluster, waits, and prints the CPU seconds the
// process used during the idle window.
func idleChild(spec string) error {
	var name string
	var n int
	var settle, idle float64
	f := strings.Split(spec, ",")
	if len(f) != 4 {
		return fmt.Errorf("bad %s %q", idleChildEnv, spec)
	}
	name = f[0]
	if _, err := fmt.Sscan(f[1]+" "+f[2]+" "+f[3], &n, &settle, &idle); err != nil {
		return fmt.Errorf("bad %s %q: %v", idleChildEnv, spec, err)
	}
	s := oursSide
	if name == baseSide.name {
		s = baseSide
	}
	// Joined one at a time: a join storm of 128 nodes on a loaded host can
	// leave a node unknown to some peers until a push/pull, which is the
	// convergence figure's business, not this one's.
	nodes, err := startNodes(s, n, lan)
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	for _, x := range nodes[1:] {
		if err := x.Join(nodes[0].Addr()); err != nil {
			return err
		}
	}
	if err := waitUntil(3*time.Minute, 50*time.Millisecond, "convergence", func() bool { return allAlive(nodes, n) }); err != nil {
		return fmt.Errorf("%w (members seen: %v)", err, aliveCounts(nodes))
	}
	time.Sleep(time.Duration(settle * float64(time.Second)))
	if !allAlive(nodes, n) {
		return fmt.Errorf("cluster lost members while settling: %v", aliveCounts(nodes))
	}
	if path := os.Getenv(idleProfileEnv); path != "" {
		pf, err := os.Create(path)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	before := cpuTime()
	time.Sleep(time.Duration(idle * float64(time.Second)))
	used := cpuTime() - before
	if !allAlive(nodes, n) {
		return fmt.Errorf("cluster lost members while idle: %v", aliveCounts(nodes))
	}
	fmt.Println(used.Seconds())
	return nil
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
