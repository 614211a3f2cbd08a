package main

import (
	"testing"

	"go.uber.org/goleak"
)

// The generator runs subprocesses (go build, gofmt) in its tests; none of
// their watcher goroutines may outlive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
