package engine

import (
	"errors"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
)

// Errors returned by the engine. Every error the engine returns wraps exactly one
// of these with errors.Is-compatible wrapping, so that callers (the Scriptling
// binding among them) can classify failures without parsing messages. Messages
// never start with a function name: the caller adds its own context.
var (
	// ErrInvalidArgument: a value the caller passed is outside what is accepted
	// (a message type below MinUserMessageType, a key of the wrong length, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnsupportedType: a payload or metadata value has a type the wire codec cannot carry.
	ErrUnsupportedType = errors.New("unsupported type")
	// ErrNotFound: the named node is not known to this node.
	ErrNotFound = errors.New("not found")
	// ErrNotRunning: the operation needs a started, not yet stopped, cluster.
	ErrNotRunning = errors.New("cluster not running")
	// ErrJoinFailed: no peer could be reached or every peer refused us.
	ErrJoinFailed = errors.New("join failed")
	// ErrTooLarge: a payload exceeds the documented maximum size.
	ErrTooLarge = errors.New("too large")
	// ErrTimeout: an operation did not complete in time.
	ErrTimeout = errors.New("timeout")
	// ErrStartFailed: Start could not start the node: it was already
	// started, or its address cannot be bound (in use, not permitted).
	ErrStartFailed = errors.New("start failed")
)

// MinUserMessageType is the lowest message type available to applications;
// types below it are reserved for the engine's own protocol.
const MinUserMessageType = 128

// State is a node's state as seen by the local node.
type State string

// Node states. They follow memberlist's failure detector; StateLeaving is a
// node that announced a graceful leave.
const (
	StateAlive   State = "alive"
	StateSuspect State = "suspect"
	StateDead    State = "dead"
	StateLeaving State = "leaving"
)

// Node is a snapshot of one cluster member.
type Node struct {
	ID         string         // unique node id
	Addr       string         // advertised "host:port", never port 0
	State      string         // one of the State constants
	Metadata   map[string]any // values are string, int64, float64 or bool
	Tags       []string       // routing tags
	AppVersion string         // application version, "" if none
}

// Message is a user message delivered to a handler.
type Message struct {
	Type    int  // message type, >= MinUserMessageType
	Sender  Node // the sender as known when the message was delivered
	Payload any  // nil, bool, int64, float64, string, []any or map[string]any
}

// Config configures a Cluster. The zero value of every field is a sensible
// default except where noted.
type Config struct {
	// BindAddr is "host:port" to listen on (UDP and TCP). Port 0 picks a free
	// port; the node then advertises the port it got.
	BindAddr string
	// AdvertiseAddr is "host:port" announced to peers; empty means BindAddr.
	AdvertiseAddr string
	// NodeID must be unique in the cluster; empty means a random UUID.
	NodeID string
	// Tags route SendTagged messages.
	Tags []string
	// EncryptionKey enables AES-GCM on every packet and stream when set;
	// it must be 16, 24 or 32 bytes.
	EncryptionKey string
	// Compression enables Snappy on user payloads of CompressMinSize bytes
	// or more, where it saves space.
	Compression bool
	// CompressMinSize is the smallest payload worth compressing; 0 means 256.
	CompressMinSize int
	// BearerToken, when set, must be shared by every node: nodes without it
	// can neither join nor deliver messages. It never crosses the wire.
	BearerToken string
	// AppVersion is checked at join: nodes whose versions are incompatible
	// (semantic-version major differs, or minor differs while major is 0)
	// refuse each other.
	AppVersion string
	// Logger receives the engine's and memberlist's logs; nil discards them.
	Logger *slog.Logger
	// EventQueueSize bounds the queue of events waiting for Dispatch; 0 means 1024.
	EventQueueSize int
	// LeaveTimeout bounds how long Leave waits for the leave to propagate; 0 means 2s.
	LeaveTimeout time.Duration
	// Pump, when set, runs this node's handlers together with those of the
	// other nodes sharing it (a script's nodes share its interpreter's
	// pump); nil gives the node a pump of its own.
	Pump *Pump
	// SendTimeout is how long a reliable send may block when a call passes
	// a negative timeout: waiting for room in a destination's window, and
	// for SendTo the destination's acknowledgement; 0 means 10s.
	SendTimeout time.Duration

	// Transport replaces memberlist's UDP/TCP transport (tests inject
	// faults through it); nil uses memberlist's NetTransport on BindAddr.
	Transport memberlist.NodeAwareTransport
	// Profile picks memberlist's base timing: "lan" (default), "local" or
	// "wan". The overrides below replace single values of the profile.
	Profile string

	// Timing overrides; zero keeps the profile's value.
	ProbeInterval       time.Duration // failure-detector probe period
	ProbeTimeout        time.Duration // how long a probe waits for an ack
	GossipInterval      time.Duration // period of gossip (broadcast) rounds
	PushPullInterval    time.Duration // period of full state exchange
	DeadNodeReclaimTime time.Duration // after this a dead node's id may come back at a new address; 0 means 10s
	SuspicionMult       int           // suspicion timeout multiplier
	RetransmitMult      int           // broadcast retransmission multiplier
	GossipNodes         int           // peers contacted per gossip round
}
