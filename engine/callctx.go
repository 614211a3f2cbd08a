package engine

import (
	"context"
	"fmt"
	"time"
)

// Blocking calls take the caller's context: an embedder's deadline or
// cancel (for a script, the evaluation's) ends them promptly, and the error
// wraps ctx.Err() so the caller can tell its own ending from the engine's.
// Calls with a timeout of their own bound the wait with it as well; that
// ending is reported as ErrTimeout.

// boundedContext derives the context of one call from the caller's: it also
// ends after timeout, unless timeout is negative.
func boundedContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// endedError explains why a call's wait for what ended before it finished:
// the caller's context (its error wrapped), or the call's own timeout.
func endedError(caller context.Context, what string, timeout time.Duration) error {
	if err := caller.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%w: %s within %v", ErrTimeout, what, timeout)
}

// sendTimeout resolves a send's timeout: negative means the configured one.
func (c *Cluster) sendTimeout(timeout time.Duration) time.Duration {
	if timeout < 0 {
		return c.cfg.SendTimeout
	}
	return timeout
}
