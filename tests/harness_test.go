package tests

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/host"
)

// scriptTimeout bounds one script; scripts poll with their own, shorter
// deadlines, so hitting this means a hang.
const scriptTimeout = 3 * time.Minute

// syncBuffer is a bytes.Buffer safe for the script and the logger to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// scriptResult is what one script run produced.
type scriptResult struct {
	Stdout string
	Logs   string
	Err    error
}

// runScript runs the script at path in a fresh interpreter, with the
// script's folder and tests/scripts on the import path.
func runScript(t *testing.T, path string, args ...string) scriptResult {
	t.Helper()
	source, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return runSource(t, path, source, args...)
}

func runSource(t *testing.T, path string, source []byte, args ...string) scriptResult {
	t.Helper()
	var stdout, logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	scriptsDir, _ := filepath.Abs("scripts")
	p := host.New(host.Options{
		Argv:    append([]string{path}, args...),
		Stdout:  &stdout,
		Logger:  logger,
		LibDirs: []string{filepath.Dir(path), scriptsDir},
	})
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	err := host.RunFile(ctx, p, path, source)
	return scriptResult{Stdout: stdout.String(), Logs: logs.String(), Err: err}
}

// requireOK fails the test unless the script ran without error and printed want.
func requireOK(t *testing.T, r scriptResult, want string) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("script failed: %v\n--- stdout:\n%s\n--- logs (tail):\n%s", r.Err, r.Stdout, tail(r.Logs, 40))
	}
	if !strings.Contains(r.Stdout, want) {
		t.Fatalf("stdout lacks %q:\n%s", want, r.Stdout)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
