package engine

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/scriptling-contrib/gossip/internal/ratelog"
)

// discardLogger is used when Config.Logger is nil so the engine can log
// unconditionally.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// slogWriter receives memberlist's stdlib log lines ("[DEBUG] memberlist: ...")
// and forwards them to slog at the matching level, so one logger configures
// both the engine and the library underneath it.
//
// memberlist logs at [ERR] what any remote host can provoke at will
// (undecryptable packets, malformed messages, failed stream reads): those
// lines, recognised by the peer address memberlist appends ("from=..."),
// are logged at Warn through a rate limiter, one line per kind per few
// seconds with a count of the suppressed ones.
type slogWriter struct {
	logger *slog.Logger
	peer   *ratelog.Limiter
}

// Write implements io.Writer; log.Logger calls it once per line.
func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(bytes.TrimRight(p, "\n")))
	level := slog.LevelInfo
	for _, pfx := range []struct {
		tag   string
		level slog.Level
	}{
		{"[DEBUG]", slog.LevelDebug},
		{"[TRACE]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[ERR]", slog.LevelError},
		{"[ERROR]", slog.LevelError},
	} {
		if strings.HasPrefix(line, pfx.tag) {
			level = pfx.level
			line = strings.TrimSpace(line[len(pfx.tag):])
			break
		}
	}
	if level == slog.LevelError && strings.Contains(line, " from=") {
		w.peer.LogKind(slog.LevelWarn, peerLineKind(line), line, "source", "memberlist")
		return len(p), nil
	}
	if w.logger.Enabled(context.Background(), level) {
		w.logger.Log(context.Background(), level, line, "source", "memberlist")
	}
	return len(p), nil
}

// peerLineKind is the rate-limiting key of a peer-triggered memberlist
// line: its text up to the first colon ("memberlist: Decrypt packet
// failed"), without the details and the address that follow.
func peerLineKind(line string) string {
	rest := strings.TrimPrefix(line, "memberlist: ")
	if i := strings.IndexAny(rest, ":%"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.Index(rest, " from="); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// newMemberlistLogger builds the *log.Logger memberlist writes to.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{logger: l, peer: ratelog.New(l, ratelog.DefaultInterval)}, "", 0)
}

// memberlistLogger is the *log.Logger handed to memberlist.
func (c *Cluster) memberlistLogger() *log.Logger {
	return newMemberlistLogger(c.cfg.Logger)
}
