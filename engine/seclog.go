package engine

import (
	"bytes"
	"io"
	"log"

	"github.com/scriptling-contrib/gossip/internal/streams"
)

// memberlist drops packets and streams that fail decryption itself and only
// logs them, so the engine learns of them from the log lines: the writer
// below counts them for Stats().DecryptFailures before passing each line on.
// Matching log text is brittle across memberlist versions, which is why the
// count is advisory (it explains refusals) and nothing depends on it.

// decryptMarkers are fragments of memberlist v0.7 log lines reporting a
// packet or stream that was not encrypted with an installed key.
var decryptMarkers = [][]byte{
	[]byte("Decrypt packet failed"),
	[]byte("could decrypt"),
	[]byte("not encrypted"),
}

// decryptCounter counts decryption refusals in memberlist's log output.
type decryptCounter struct {
	c    *Cluster
	next io.Writer
}

// Write implements io.Writer; log.Logger calls it once per line.
func (w decryptCounter) Write(p []byte) (int, error) {
	for _, m := range decryptMarkers {
		if bytes.Contains(p, m) {
			w.c.stats.decryptFailures.Add(1)
			break
		}
	}
	return w.next.Write(p)
}

// memberlistLogger is the *log.Logger handed to memberlist.
func (c *Cluster) memberlistLogger() *log.Logger {
	l := newMemberlistLogger(c.cfg.Logger)
	l.SetOutput(decryptCounter{c: c, next: l.Writer()})
	return l
}

// streamStats are the streams transport's counters (zero before start):
// Stats reports its handshakes and records that failed to authenticate
// and the inbound connections it refused.
func (c *Cluster) streamStats() streams.Stats {
	if c.state.Load() == stateNew || c.tr == nil {
		return streams.Stats{}
	}
	return c.tr.Stats()
}
