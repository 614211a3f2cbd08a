package codec

import "runtime"

// testingMem measures bytes allocated between start and allocated; tests
// using it must not run in parallel.
type testingMem struct{ before uint64 }

func (m *testingMem) start() {
	var s runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&s)
	m.before = s.TotalAlloc
}

func (m *testingMem) allocated() uint64 {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.TotalAlloc - m.before
}

// bytesPerRun is the average number of bytes allocated by one call of fn
// over runs calls.
func bytesPerRun(runs int, fn func()) uint64 {
	var m testingMem
	m.start()
	for range runs {
		fn()
	}
	return m.allocated() / uint64(runs)
}
