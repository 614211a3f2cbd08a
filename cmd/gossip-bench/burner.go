package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// The CPU burner (-burn) reproduces a loaded host: a child process of the
// bench spins one busy goroutine per CPU while the burner rounds run. A
// separate process, rather than goroutines in the bench, so that the Go
// scheduler cannot favour the nodes over the load: the operating system
// shares the cores, as it does with any other busy process on the host.
// Both sides run their rounds, alternating, under the same burner.

// burnChildFlag makes the binary the burner child instead of the bench.
const burnChildFlag = "-burn-child"

// burnLimit ends a burner child that was somehow left behind.
const burnLimit = time.Hour

// startBurner starts the burner child; stop kills it and waits for it.
func startBurner() (stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("CPU burner: %w", err)
	}
	cmd := exec.Command(exe, burnChildFlag)
	// The child exits when this pipe closes, so it ends with the bench
	// even when the bench is killed.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("CPU burner: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("CPU burner: %w", err)
	}
	return func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}, nil
}

// burn is the child: every CPU busy until stdin closes or burnLimit.
func burn() {
	for range runtime.NumCPU() {
		go func() {
			x := uint64(1)
			for {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(burnLimit):
	}
}
