package engine

import "time"

// Reliable delivery.
//
// Reliable envelopes travel on internal/streams (see transport.go): one
// persistent TCP stream per destination. A stream keeps the frames of one
// connection in order, but a connection can break with frames unread, be
// redialled, and frames of the old and new connection can interleave at the
// receiver. Exactly-once, in-order delivery is therefore built end to end on
// top, with acknowledgements from the destination:
//
//   - Session: per (sender run, destination run) the sender numbers its
//     messages 1, 2, 3, ... under a 128-bit session id from crypto/rand
//     (reliable_session.go), so ids never collide across restarts whatever
//     the clock does. The destination run is the instance in its node
//     header; frames carry it and a restarted node drops frames meant for
//     its previous run.
//   - Sender (reliable_send.go): per destination a window of unacknowledged
//     messages, bounded by windowMessages and windowBytes. A send blocks
//     while the window is full, up to its timeout. One goroutine per
//     destination writes the window in order and retransmits it from the
//     first unacknowledged message after a write error, when the receiver
//     reports a gap, and when no acknowledgement progress is seen for an
//     adaptive retransmission timeout (with backoff). A SendTo that finds
//     the destination idle (empty window, no writer, stream connected)
//     writes its message on its own goroutine instead, and a timer stands
//     in for the goroutine until the acknowledgement comes: a lone message
//     costs no hand-off.
//   - Receiver (reliable_recv.go): per sender one small record (session,
//     next expected number). A frame numbered next is delivered into the
//     event queue; a lower number is a duplicate and dropped; a higher one
//     is dropped unbuffered (the sender retransmits it). When the event
//     queue is full, delivery waits up to busyWait (TCP pushes back on the
//     sender meanwhile); then the receiver refuses that sender's frames
//     without reading them into memory, tells the sender it is busy, and
//     asks for a resend once the queue has room again. Nothing is skipped.
//   - Acknowledgements (reliable_ack.go): cumulative (the highest number
//     delivered into the queue), coalesced by the goroutine that sends
//     them, and carried on the receiver's own outbound stream to the
//     sender. A duplicate frame is answered with an acknowledgement, so a
//     lost one is repaired by the sender's retransmission; duplicate
//     acknowledgements are harmless. A busy receiver is probed with one
//     message at a time, never flooded.
//
// Failure: while the destination is suspect or dead the window is kept (and
// writing pauses while it is dead); when it comes back alive with the same
// instance the window is retransmitted, so a dead→alive flap loses and
// duplicates nothing. When the destination leaves, is removed by
// memberlist, restarts (new instance), or loses its record of the session,
// or when this node stops, the unacknowledged messages fail: they are
// counted in Stats().ReliableFailed, logged at Warn (rate-limited), and a
// SendTo still waiting for one returns an error.
//
// Memory: per destination at most windowMessages messages and windowBytes
// encoded bytes in the window (one larger message is let in when the window
// is empty) plus, while being written, their copies in the stream's queue
// (bounded the same way by streams.Config); per sender one record of about
// 100 bytes on the receiver, whose event queue is bounded by
// Config.EventQueueSize.

const (
	windowMessages = 4096    // unacknowledged messages per destination
	windowBytes    = 8 << 20 // encoded bytes of unacknowledged messages per destination
	// internalSlack is the room beyond the window for engine messages sent
	// from the receive path (request replies, metadata answers), which must
	// never wait there: that path also reads the acknowledgements that free
	// the window.
	internalSlack = 256
	maxBatch      = 1024 // frames written per round
	// A receiver acknowledges at the end of each burst of frames, and at
	// the latest after this many messages or bytes of one burst.
	ackEvery      = windowMessages / 8
	ackEveryBytes = windowBytes / 8

	rtoInitial   = 500 * time.Millisecond // before the first round-trip sample
	rtoMin       = 50 * time.Millisecond
	rtoMax       = 5 * time.Second
	probeMax     = time.Second            // longest interval between probes of a busy receiver
	retryMin     = 20 * time.Millisecond  // first pause after a write error
	retryMax     = time.Second            // longest pause between write attempts
	busyWait     = 200 * time.Millisecond // delivery waits this long on a full queue before refusing
	resumePoll   = 10 * time.Millisecond  // how often a busy receiver looks for room in its queue
	failLogEvery = 10 * time.Second       // at most one failure warning per destination this often
	// ackStreamSuspect: a duplicate of a message delivered longer ago
	// than this means acknowledgements are not reaching its sender.
	ackStreamSuspect = time.Second
)

// clockBase anchors monoClock.
var clockBase = time.Now()

// monoClock is the monotonic time since clockBase. It reads only the
// monotonic clock, where time.Now reads the wall clock too, which matters
// for stamps taken once per message.
func monoClock() time.Duration { return time.Since(clockBase) }
