// Package ratelog logs events that a remote peer can trigger at will (bad
// handshakes, undecryptable frames, refused connections) without letting
// that peer fill the log: each kind of event is written at most once per
// interval, and the next line that gets through says how many were
// suppressed in between.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the minimum spacing of two lines of one kind.
const DefaultInterval = 5 * time.Second

// Limiter writes rate-limited lines to a slog.Logger. The zero value is not
// usable; create one with New. Safe for concurrent use.
type Limiter struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time // replaced in tests

	mu    sync.Mutex
	kinds map[string]*kindState
}

type kindState struct {
	last       time.Time
	suppressed uint64
}

// New returns a Limiter writing to log at most one line per kind per
// interval (DefaultInterval when interval <= 0).
func New(log *slog.Logger, interval time.Duration) *Limiter {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Limiter{log: log, interval: interval, now: time.Now, kinds: make(map[string]*kindState)}
}

// maxKinds bounds the table: kinds are chosen by the caller from a fixed
// set, but a caller deriving them from peer input must not grow it forever.
const maxKinds = 256

// Log writes msg at level unless a line of the same kind (msg itself) was
// written less than the interval ago, in which case it only counts it. A
// line that follows suppressed ones carries "suppressed"=N.
func (l *Limiter) Log(level slog.Level, msg string, args ...any) {
	l.LogKind(level, msg, msg, args...)
}

// LogKind is Log with the rate-limiting key given separately from the
// message.
func (l *Limiter) LogKind(level slog.Level, kind, msg string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	now := l.now()
	l.mu.Lock()
	k := l.kinds[kind]
	if k == nil {
		if len(l.kinds) >= maxKinds {
			l.forgetOld(now)
		}
		k = &kindState{}
		l.kinds[kind] = k
	} else if now.Sub(k.last) < l.interval {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	k.last = now
	suppressed := k.suppressed
	k.suppressed = 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Log(context.Background(), level, msg, args...)
}

// forgetOld drops kinds idle for longer than the interval (their pending
// suppressed counts are lost, which only shortens a summary). Called with
// l.mu held.
func (l *Limiter) forgetOld(now time.Time) {
	for kind, k := range l.kinds {
		if now.Sub(k.last) >= l.interval {
			delete(l.kinds, kind)
		}
	}
	if len(l.kinds) >= maxKinds {
		clear(l.kinds)
	}
}

// Warn is Log at slog.LevelWarn.
func (l *Limiter) Warn(msg string, args ...any) { l.Log(slog.LevelWarn, msg, args...) }

// Debug is Log at slog.LevelDebug.
func (l *Limiter) Debug(msg string, args ...any) { l.Log(slog.LevelDebug, msg, args...) }
