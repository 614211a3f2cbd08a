// Command gossip-bench measures the engine against raw hashicorp/memberlist
// with the same memberlist timing profile, in one process, alternating the
// two sides over several rounds, and prints the medians and their ratios.
//
// Every ratio is oriented so that above 1 is better for the engine:
// ours/baseline for rates, baseline/ours for times and sizes. Nodes run on
// 127.0.0.1 with free ports.
//
// Usage:
//
//	gossip-bench [-quick] [-json] [-rounds n] [-chart file.png] [-only words] [-sizes 8,32,128] [-burn] [-cpuprofile file]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// figure is one line of the result table.
type figure struct {
	Figure   string   `json:"figure"`
	Ours     float64  `json:"ours"`
	Baseline *float64 `json:"baseline"`
	Unit     string   `json:"unit"`
	Ratio    *float64 `json:"ratio"`
}

// kind says how a figure's ratio is oriented.
type kind int

const (
	rate kind = iota // higher is better: ratio = ours / baseline
	cost             // lower is better: ratio = baseline / ours
)

// bench holds the run settings and the results so far.
type bench struct {
	quick   bool
	burn    bool // also run the convergence rounds under a CPU burner
	rounds  int
	only    string
	figures []figure
	series  map[string][]point // chart data: name -> (N, seconds)
	log     func(format string, args ...any)
}

type point struct{ n, v float64 }

// convSizes are the cluster sizes of the convergence scenario (-sizes).
var convSizes []int

func main() {
	exit := 0
	defer func() {
		if exit != 0 {
			os.Exit(exit)
		}
	}()
	if len(os.Args) == 2 && os.Args[1] == burnChildFlag {
		burn()
		return
	}
	quick := flag.Bool("quick", false, "run a tiny version of every scenario (a smoke test)")
	asJSON := flag.Bool("json", false, "print the results as JSON")
	rounds := flag.Int("rounds", 0, "rounds per scenario (default 3, 1 with -quick)")
	chart := flag.String("chart", "", "write a PNG chart of convergence and failure detection to this file")
	only := flag.String("only", "", "run only scenarios whose name contains one of these comma-separated words")
	sizes := flag.String("sizes", "8,32,128", "cluster sizes for the convergence scenario (and, when given, the idle-cpu one: 16,64,128 otherwise)")
	burner := flag.Bool("burn", false, "also run the convergence rounds with a CPU burner keeping every core busy")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	flag.Parse()
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gossip-bench: -cpuprofile: %v\n", err)
			os.Exit(2)
		}
		defer stop()
	}
	for _, f := range strings.Split(*sizes, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n < 2 {
			fmt.Fprintf(os.Stderr, "gossip-bench: -sizes: %q is not a cluster size of 2 or more\n", f)
			os.Exit(2)
		}
		convSizes = append(convSizes, n)
	}

	thoroughJoins = *quick
	b := &bench{quick: *quick, burn: *burner, rounds: *rounds, only: *only, series: map[string][]point{}}
	if b.rounds <= 0 {
		b.rounds = 3
		if b.quick {
			b.rounds = 1
		}
	}
	b.log = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	start := time.Now()
	failed := false
	for _, sc := range scenarios() {
		if !b.selected(sc.name) {
			continue
		}
		b.log("scenario %s", sc.name)
		if err := sc.run(b); err != nil {
			fmt.Fprintf(os.Stderr, "gossip-bench: %s: %v\n", sc.name, err)
			failed = true
		}
	}
	b.log("done in %v", time.Since(start).Round(time.Second))
	if *chart != "" {
		if err := writeChart(*chart, b.series); err != nil {
			fmt.Fprintf(os.Stderr, "gossip-bench: chart: %v\n", err)
			failed = true
		}
	}
	if *asJSON {
		out, _ := json.MarshalIndent(b.figures, "", "  ")
		fmt.Println(string(out))
	} else {
		printTable(b.figures)
	}
	if failed {
		exit = 1
	}
}

// selected reports whether -only lets the scenario named name run.
func (b *bench) selected(name string) bool {
	if b.only == "" {
		return true
	}
	for _, w := range strings.Split(b.only, ",") {
		if w != "" && strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// scenario is one group of figures.
type scenario struct {
	name string
	run  func(b *bench) error
}

func scenarios() []scenario {
	return []scenario{
		{"convergence", runConvergence},
		{"failure-detection", runFailureDetection},
		{"idle-cpu", runIdleCPU},
		{"fast-profile-loss", runFastLoss},
		{"reliable-throughput", runReliableThroughput},
		{"reliable-latency", runReliableLatency},
		{"unreliable", runUnreliable},
		{"broadcast", runBroadcast},
		{"metadata", runMetadata},
		{"push-pull", runPushPull},
		{"late-join", runLateJoin},
		{"binding-overhead", runBindingOverhead},
		{"end-to-end", runEndToEnd},
	}
}

// compare runs measure for both sides, alternating which side goes first,
// b.rounds times. measure returns several values per run (one per
// figure); the result holds each value's samples per side.
func (b *bench) compare(measure func(s side) ([]float64, error)) (ours, base [][]float64, err error) {
	for r := 0; r < b.rounds; r++ {
		order := []side{oursSide, baseSide}
		if r%2 == 1 {
			order = []side{baseSide, oursSide}
		}
		for _, s := range order {
			vs, err := measure(s)
			if err != nil {
				return nil, nil, fmt.Errorf("%s, round %d: %w", s.name, r+1, err)
			}
			b.log("  round %d %-10s %v", r+1, s.name, fmtVals(vs))
			if s.name == oursSide.name {
				ours = appendCols(ours, vs)
			} else {
				base = appendCols(base, vs)
			}
		}
	}
	return ours, base, nil
}

func appendCols(cols [][]float64, vs []float64) [][]float64 {
	for len(cols) < len(vs) {
		cols = append(cols, nil)
	}
	for i, v := range vs {
		cols[i] = append(cols[i], v)
	}
	return cols
}

func fmtVals(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.4g", v)
	}
	return strings.Join(parts, " ")
}

// add records a figure from per-round samples (medians); base may be nil.
func (b *bench) add(name, unit string, k kind, ours, base []float64) {
	f := figure{Figure: name, Ours: median(ours), Unit: unit}
	if base != nil {
		bm := median(base)
		f.Baseline = &bm
		var r float64
		switch {
		case k == rate && bm > 0:
			r = f.Ours / bm
		case k == cost && f.Ours > 0:
			r = bm / f.Ours
		}
		if r > 0 {
			f.Ratio = &r
		}
	}
	b.figures = append(b.figures, f)
}

// median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile of xs, nearest rank.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func printTable(fs []figure) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "figure\tours\tmemberlist\tunit\tratio\t")
	for _, f := range fs {
		base, ratio := "-", "-"
		if f.Baseline != nil {
			base = fmt.Sprintf("%.4g", *f.Baseline)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *f.Ratio)
		}
		fmt.Fprintf(w, "%s\t%.4g\t%s\t%s\t%s\t\n", f.Figure, f.Ours, base, f.Unit, ratio)
	}
	_ = w.Flush()
}

// startCPUProfile profiles the process into path until the returned
// function runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
