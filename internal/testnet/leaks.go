package testnet

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakGrace is how long goroutines may take to end after the tests. A
// stopped memberlist's goroutines notice Shutdown only when their current
// probe or push/pull returns (a probe timeout or more), and on a loaded
// machine later still; goleak's own retries span under half a second. A
// goroutine that is still there after the grace is a leak.
const leakGrace = 15 * time.Second

// VerifyNoLeaks runs the package's tests and then fails the run if
// goroutines it started are still running after leakGrace. Use it as
// TestMain: func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }.
func VerifyNoLeaks(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := waitNoLeaks(leakGrace); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines still running %v after the tests: %v\n", leakGrace, err)
			code = 1
		}
	}
	os.Exit(code)
}

// waitNoLeaks polls goleak until it finds nothing or grace has passed.
func waitNoLeaks(grace time.Duration, opts ...goleak.Option) error {
	deadline := time.Now().Add(grace)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
