package main

import "testing"

// The end-to-end figure as Go benchmarks, with the process's CPU time per
// message (cpuTime, idle.go): on a shared machine the rate says as much about the neighbours
// as about the code, the CPU time much less. Run with -benchtime 200000x.

func benchEndToEnd(b *testing.B, run func(total int) (float64, error)) {
	b.ReportAllocs()
	c0 := cpuTime()
	rate, err := run(b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-us/msg")
	b.ReportMetric(rate, "msg/s")
	b.ReportMetric(float64(e2eRetransmits), "retransmits")
}

func BenchmarkEndToEndScript(b *testing.B) { benchEndToEnd(b, e2eScript) }
func BenchmarkEndToEndGo(b *testing.B)     { benchEndToEnd(b, e2eGo) }
