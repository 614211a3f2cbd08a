package testnet

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestWaitNoLeaksWaitsForSlowGoroutines(t *testing.T) {
	base := goleak.IgnoreCurrent()
	done := make(chan struct{})
	go func() { time.Sleep(time.Second); close(done) }()
	if err := waitNoLeaks(10*time.Second, base); err != nil {
		t.Fatalf("a goroutine ending after 1 s was reported: %v", err)
	}
	<-done
}

func TestWaitNoLeaksReportsALeak(t *testing.T) {
	base := goleak.IgnoreCurrent()
	stop := make(chan struct{})
	defer close(stop)
	go func() { <-stop }()
	if err := waitNoLeaks(300*time.Millisecond, base); err == nil {
		t.Fatal("a goroutine blocked for good was not reported")
	}
}
