package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// memberlist's [ERR] lines about what a remote host sent are demoted to
// Warn and rate-limited per kind; its other lines keep their level.
func TestMemberlistPeerErrorsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := newMemberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for i := 0; i < 50; i++ {
		l.Printf("[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.0.0.%d:7946", i)
		l.Printf("[ERR] memberlist: Failed to decode ping: bad msgpack from=10.0.0.%d:7946", i)
	}
	l.Printf("[ERR] memberlist: Failed to parse address %q", "x")
	l.Printf("[DEBUG] memberlist: Stream connection from=10.0.0.1:7946")
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4 (two kinds once each, the local error, the debug line):\n%s", len(lines), out)
	}
	for _, line := range lines[:2] {
		if !strings.Contains(line, "level=WARN") {
			t.Errorf("peer-triggered line not at Warn: %s", line)
		}
	}
	if !strings.Contains(lines[2], "level=ERROR") || !strings.Contains(lines[3], "level=DEBUG") {
		t.Errorf("other lines changed level:\n%s", out)
	}
	if got := peerLineKind("memberlist: Decrypt packet failed: x from=1.2.3.4:5"); got != "Decrypt packet failed" {
		t.Errorf("kind %q", got)
	}
}
