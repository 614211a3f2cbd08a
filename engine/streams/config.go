package streams

import (
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// Default configuration values.
const (
	DefaultIdleTimeout     = 60 * time.Second
	DefaultMaxFrameSize    = 16 << 20
	DefaultDialTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultPeekTimeout     = 10 * time.Second
	DefaultQueueFrames     = 4096
	DefaultQueueBytes      = 8 << 20
	DefaultWriteBufferSize = 64 << 10
	DefaultReadBufferSize  = 64 << 10
)

// Handler receives the frames of one inbound stream, in the order they were
// sent, on that stream's goroutine. from is the remote address of the TCP
// connection (the sender's ephemeral port, not its memberlist address).
//
// The handler may block: the stream is not read while it does, so a slow
// handler pushes back on the sender through TCP flow control. It must return
// once the application shuts down, or Transport.Shutdown will wait for it.
// The frame slice is owned by the handler and may be retained.
type Handler func(from net.Addr, frame []byte)

// Config configures a Transport. The zero value is usable (frames received
// are then discarded); unset fields take the defaults above.
type Config struct {
	// Handler is called for every frame received. Nil discards frames.
	Handler Handler

	// Keyring, when set, seals every frame with AES-GCM under the primary
	// key; received frames may be sealed under any key of the ring. The ring
	// is consulted on every frame, so keys can be rotated at runtime:
	// install the new key everywhere, switch the primary, then remove the
	// old key. Both ends must agree on whether encryption is used.
	Keyring *memberlist.Keyring

	// Label, when set, must match on both ends of a stream. It is checked
	// during the handshake and, when encrypting, bound to every frame as
	// additional authenticated data.
	Label string

	// IdleTimeout closes outbound connections that carried no frame for
	// this long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration

	// MaxFrameSize caps the size of a frame (before encryption). Send
	// rejects larger frames; a peer announcing a larger one has its
	// connection closed. Default DefaultMaxFrameSize.
	MaxFrameSize int

	// DialTimeout bounds connecting to a peer plus the stream handshake.
	DialTimeout time.Duration

	// WriteTimeout bounds writing one batch of frames to a peer, including
	// time spent blocked because the peer is not reading.
	WriteTimeout time.Duration

	// PeekTimeout bounds how long an inbound connection may take to send its
	// first bytes before it is dropped.
	PeekTimeout time.Duration

	// QueueFrames and QueueBytes bound the frames waiting for a peer's
	// connection; Send and SendAsync block while the queue is full.
	QueueFrames int
	QueueBytes  int

	// WriteBufferSize and ReadBufferSize size the per-connection buffers.
	WriteBufferSize int
	ReadBufferSize  int

	// Logger receives diagnostics. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	defaultTo(&c.IdleTimeout, DefaultIdleTimeout)
	defaultTo(&c.MaxFrameSize, DefaultMaxFrameSize)
	defaultTo(&c.DialTimeout, DefaultDialTimeout)
	defaultTo(&c.WriteTimeout, DefaultWriteTimeout)
	defaultTo(&c.PeekTimeout, DefaultPeekTimeout)
	defaultTo(&c.QueueFrames, DefaultQueueFrames)
	defaultTo(&c.QueueBytes, DefaultQueueBytes)
	defaultTo(&c.WriteBufferSize, DefaultWriteBufferSize)
	defaultTo(&c.ReadBufferSize, DefaultReadBufferSize)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Stats is a snapshot of a Transport's counters.
type Stats struct {
	FramesSent        uint64 // frames written and flushed to a connection
	BytesSent         uint64 // frame payload bytes in FramesSent (before encryption)
	SendErrors        uint64 // frames whose Send/SendAsync reported an error
	FramesReceived    uint64 // frames passed to the handler
	BytesReceived     uint64 // payload bytes in FramesReceived (after decryption)
	ConnsOpened       uint64 // outbound stream connections established
	ConnsAccepted     uint64 // inbound stream connections accepted (handshake done)
	ConnsForwarded    uint64 // inbound connections handed to memberlist
	HandshakeFailures uint64 // inbound or outbound handshakes that failed
	DecryptFailures   uint64 // frames that failed to decrypt (connection closed)
	OversizeFrames    uint64 // frame claims above MaxFrameSize (connection closed)
	IdleClosed        uint64 // outbound connections closed for idleness
}

// defaultTo sets an unset (zero or negative) setting to its default.
func defaultTo[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
