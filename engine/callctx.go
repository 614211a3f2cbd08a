package engine

import (
	"time"
)

// Blocking calls take the caller's context: an embedder's deadline or
// cancel (for a script, the evaluation's) ends them promptly, and the error
// wraps ctx.Err() so the caller can tell its own ending from the engine's.
// Calls with a timeout of their own bound the wait with it as well; that
// ending is reported as ErrTimeout.

// sendTimeout resolves a send's timeout: negative means the configured one.
func (c *Cluster) sendTimeout(timeout time.Duration) time.Duration {
	if timeout < 0 {
		return c.cfg.SendTimeout
	}
	return timeout
}
