package engine

import "time"

// Handlers run only inside Dispatch and Wait, on the caller's goroutine. A
// script that sleeps (time.sleep) instead of waiting runs none, and its
// events pile up silently; the node then logs one warning per stall, so
// the author learns where handlers run.

// stallAfter is how long events may wait with no dispatch before the
// stall is reported.
const stallAfter = 2 * time.Second

// dispatched records that the queue's owner is dispatching: a stall, if
// any, is over.
func (q *eventQueue) dispatched() {
	q.mu.Lock()
	q.lastDispatch = time.Now()
	q.stallReported = false
	q.mu.Unlock()
}

// stalled reports, once per stall, how many events have waited longer
// than stallAfter since the last dispatch, and for how long.
func (q *eventQueue) stalled(now time.Time) (waiting int, since time.Duration, report bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	waiting = len(q.items) - q.head
	if waiting == 0 || q.stallReported {
		return waiting, 0, false
	}
	start := q.nonEmptySince
	if q.lastDispatch.After(start) {
		start = q.lastDispatch
	}
	since = now.Sub(start)
	if since < stallAfter {
		return waiting, since, false
	}
	q.stallReported = true
	return waiting, since, true
}

// checkStall logs a warning when handlers have stopped running, and
// trims an idle queue (trimIdle).
func (c *Cluster) checkStall() {
	c.queue.trimIdle()
	if n, since, report := c.queue.stalled(time.Now()); report {
		c.log.Warn("events are waiting for their handlers: handlers run while the script is inside wait() or a call into the library, not while it sleeps or blocks elsewhere",
			"waiting", n, "for", since.Round(100*time.Millisecond))
	}
}
