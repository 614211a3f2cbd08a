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
	DefaultIdleTimeout      = 60 * time.Second
	DefaultMaxFrameSize     = 16 << 20
	DefaultDialTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPeekTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultMaxInbound and DefaultMaxInboundPerSource cap the inbound
	// connections held at once. A member of a healthy cluster holds at most
	// one stream to each peer plus a short push/pull now and then, so 32 per
	// source address is far above what a peer opens and far below what an
	// attacker needs to pin memory (each connection costs a goroutine and
	// its buffers, some 30 to 100 KiB); 512 in total covers about 450 peers
	// streaming to one node at the same moment (streams idle out, so only
	// concurrent senders count) while bounding that memory to tens of MiB.
	DefaultMaxInbound          = 512
	DefaultMaxInboundPerSource = 32
	DefaultQueueFrames         = 4096
	DefaultQueueBytes          = 8 << 20
	DefaultWriteBufferSize     = 64 << 10
	DefaultReadBufferSize      = 64 << 10
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

	// Keyring, when set, encrypts every stream: a Noise NNpsk0 handshake
	// with a PSK derived from the primary key (the acceptor accepts any key
	// of its ring) gives each session its own AES-GCM keys. The ring is
	// consulted at every handshake, so keys can be rotated at runtime:
	// install the new key everywhere, switch the primary, then remove the
	// old key; established sessions keep their own keys until they end.
	// Both ends must agree on whether encryption is used.
	Keyring *memberlist.Keyring

	// Label, when set, must match on both ends of a stream. It is checked
	// during the handshake and, when encrypting, bound into the handshake.
	Label string

	// IdleTimeout closes outbound connections that carried no frame for
	// this long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration

	// InboundIdleTimeout closes inbound streams that sent nothing for this
	// long. It must exceed the dialers' IdleTimeout (whose janitor closes
	// an idle stream up to a quarter of it late). Default 2 × IdleTimeout.
	InboundIdleTimeout time.Duration

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

	// HandshakeTimeout bounds each stage of the stream handshake on both
	// sides (writing a message, waiting for the peer's).
	HandshakeTimeout time.Duration

	// MaxInbound and MaxInboundPerSource cap the inbound TCP connections
	// held at once, memberlist's included (they share the listener), in
	// total and per source IP address (loopback sources count only toward
	// the total). Connections over a cap are closed at once and counted in
	// Stats.ConnsRefused. Defaults DefaultMaxInbound and
	// DefaultMaxInboundPerSource.
	MaxInbound          int
	MaxInboundPerSource int

	// QueueFrames and QueueBytes bound the frames waiting for a peer's
	// connection; Send and SendAsync block while the queue is full.
	QueueFrames int
	QueueBytes  int

	// WriteBufferSize and ReadBufferSize size the per-connection buffers.
	WriteBufferSize int
	ReadBufferSize  int

	// PacketFilter, when set, sees every inbound packet before memberlist
	// does; packets it refuses are dropped and counted in
	// Stats.PacketsFiltered.
	PacketFilter PacketFilter

	// ForwardFilter, when set, vets every connection meant for memberlist
	// before it is handed on; connections it refuses are closed and counted
	// in Stats.ConnsFiltered.
	ForwardFilter ForwardFilter

	// Logger receives diagnostics. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	defaultTo(&c.IdleTimeout, DefaultIdleTimeout)
	defaultTo(&c.MaxFrameSize, DefaultMaxFrameSize)
	defaultTo(&c.DialTimeout, DefaultDialTimeout)
	defaultTo(&c.WriteTimeout, DefaultWriteTimeout)
	defaultTo(&c.PeekTimeout, DefaultPeekTimeout)
	defaultTo(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	defaultTo(&c.InboundIdleTimeout, 2*c.IdleTimeout)
	defaultTo(&c.MaxInbound, DefaultMaxInbound)
	defaultTo(&c.MaxInboundPerSource, DefaultMaxInboundPerSource)
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
	FramesSent         uint64 // frames written and flushed to a connection
	BytesSent          uint64 // frame payload bytes in FramesSent (before encryption)
	SendErrors         uint64 // frames whose Send/SendAsync reported an error
	FramesReceived     uint64 // frames passed to the handler
	BytesReceived      uint64 // payload bytes in FramesReceived (after decryption)
	ConnsOpened        uint64 // outbound stream connections established
	ConnsAccepted      uint64 // inbound stream connections accepted (handshake done)
	ConnsForwarded     uint64 // inbound connections handed to memberlist
	HandshakeFailures  uint64 // inbound or outbound handshakes that failed
	DecryptFailures    uint64 // handshakes under no installed key and records that failed to authenticate (connection closed)
	CorruptFrames      uint64 // unencrypted frames that failed their checksum (connection closed)
	OversizeFrames     uint64 // frame claims above MaxFrameSize (connection closed)
	IdleClosed         uint64 // outbound connections closed for idleness
	InboundIdleClosed  uint64 // inbound streams closed after InboundIdleTimeout without data
	ConnsRefused       uint64 // inbound connections refused at a cap (total or per source)
	ConnsRefusedSource uint64 // the part of ConnsRefused refused at the per-source cap
	Rekeys             uint64 // session rekeys, sending and receiving
	PacketsFiltered    uint64 // inbound packets dropped by Config.PacketFilter
	ConnsFiltered      uint64 // connections for memberlist closed by Config.ForwardFilter
	InboundOpen        int    // inbound connections held now (streams and memberlist's)
	InboundPeak        int    // the most inbound connections held at once
}

// defaultTo sets an unset (zero or negative) setting to its default.
func defaultTo[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
