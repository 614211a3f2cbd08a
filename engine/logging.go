package engine

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
)

// discardLogger is used when Config.Logger is nil so the engine can log
// unconditionally.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// slogWriter receives memberlist's stdlib log lines ("[DEBUG] memberlist: ...")
// and forwards them to slog at the matching level, so one logger configures
// both the engine and the library underneath it.
type slogWriter struct {
	logger *slog.Logger
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
	if w.logger.Enabled(context.Background(), level) {
		w.logger.Log(context.Background(), level, line, "source", "memberlist")
	}
	return len(p), nil
}

// newMemberlistLogger builds the *log.Logger memberlist writes to.
func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{logger: l}, "", 0)
}
