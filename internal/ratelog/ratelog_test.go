package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTest(buf *bytes.Buffer) (*Limiter, *fakeClock) {
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := New(log, time.Second)
	c := &fakeClock{t: time.Unix(1000, 0)}
	l.now = c.now
	return l, c
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestOneLinePerKindPerInterval(t *testing.T) {
	var buf bytes.Buffer
	l, clock := newTest(&buf)
	for i := 0; i < 100; i++ {
		l.Warn("handshake failed", "i", i)
		l.Warn("refused", "i", i)
		clock.advance(5 * time.Millisecond)
	}
	// 500 ms elapsed: one line of each kind so far.
	if got := lines(&buf); len(got) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(got), buf.String())
	}
	clock.advance(time.Second)
	l.Warn("handshake failed", "i", 100)
	got := lines(&buf)
	if len(got) != 3 || !strings.Contains(got[2], "suppressed=99") || !strings.Contains(got[2], "i=100") {
		t.Fatalf("third line should report 99 suppressed:\n%s", buf.String())
	}
	clock.advance(time.Second)
	l.Warn("handshake failed")
	if got := lines(&buf); len(got) != 4 || strings.Contains(got[3], "suppressed") {
		t.Fatalf("nothing was suppressed before the fourth line:\n%s", buf.String())
	}
}

func TestLevelsAndDisabledLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := New(log, 0)
	if l.interval != DefaultInterval {
		t.Fatalf("interval %v, want the default", l.interval)
	}
	l.Debug("noise")
	l.Warn("kept")
	got := lines(&buf)
	if len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], "kept") {
		t.Fatalf("got:\n%s", buf.String())
	}
}

func TestKindTableBounded(t *testing.T) {
	var buf bytes.Buffer
	l, clock := newTest(&buf)
	for i := 0; i < 10*maxKinds; i++ {
		l.LogKind(slog.LevelWarn, fmt.Sprint("kind", i), "msg")
		if i%100 == 0 {
			clock.advance(time.Millisecond)
		}
	}
	if n := len(l.kinds); n > maxKinds {
		t.Fatalf("%d kinds kept, want at most %d", n, maxKinds)
	}
}
