package engine

import "time"

// THIS FILE IS A PLACEHOLDER THAT FIXES THE PUBLIC SIGNATURES. Replace the bodies
// (and this file) with the real implementation, keeping the signatures.

// Cluster is one gossip node.
type Cluster struct{}

// New validates cfg and builds a node; it does not open sockets until Start.
func New(cfg Config) (*Cluster, error) { panic("unimplemented") }

// Start opens the sockets and begins failure detection and gossip.
func (c *Cluster) Start() error { panic("unimplemented") }

// Join contacts the peers ("host:port") and returns how many answered.
// It fails with ErrJoinFailed naming the peers when none could be joined.
func (c *Cluster) Join(peers []string) (int, error) { panic("unimplemented") }

// Leave announces a graceful departure and waits for it to propagate.
func (c *Cluster) Leave() error { panic("unimplemented") }

// Stop leaves (if still a member), closes sockets and stops every goroutine.
// It is idempotent.
func (c *Cluster) Stop() error { panic("unimplemented") }

// Send sends payload to every alive node but this one.
func (c *Cluster) Send(msgType int, payload any, reliable bool) error { panic("unimplemented") }

// SendTagged sends payload to every alive node carrying tag.
func (c *Cluster) SendTagged(tag string, msgType int, payload any, reliable bool) error {
	panic("unimplemented")
}

// SendTo sends payload to one node; an unknown id is ErrNotFound.
func (c *Cluster) SendTo(nodeID string, msgType int, payload any, reliable bool) error {
	panic("unimplemented")
}

// Handle registers fn for msgType, replacing any previous handler.
func (c *Cluster) Handle(msgType int, fn func(Message)) error { panic("unimplemented") }

// OnStateChange registers fn, called with a node id and its new state.
func (c *Cluster) OnStateChange(fn func(nodeID string, state string)) { panic("unimplemented") }

// Nodes returns every known node, this one included, sorted by id.
func (c *Cluster) Nodes() []Node { panic("unimplemented") }

// AliveNodes returns the alive nodes, this one included, sorted by id.
func (c *Cluster) AliveNodes() []Node { panic("unimplemented") }

// LocalNode returns this node.
func (c *Cluster) LocalNode() Node { panic("unimplemented") }

// NumNodes is len(Nodes()).
func (c *Cluster) NumNodes() int { panic("unimplemented") }

// NumAlive is len(AliveNodes()).
func (c *Cluster) NumAlive() int { panic("unimplemented") }

// NodeID returns this node's id.
func (c *Cluster) NodeID() string { panic("unimplemented") }

// SetMetadata sets a local metadata value (string, int64, float64 or bool)
// and gossips it.
func (c *Cluster) SetMetadata(key string, value any) error { panic("unimplemented") }

// GetMetadata returns a local metadata value.
func (c *Cluster) GetMetadata(key string) (any, bool) { panic("unimplemented") }

// AllMetadata returns a copy of the local metadata.
func (c *Cluster) AllMetadata() map[string]any { panic("unimplemented") }

// DeleteMetadata removes a local metadata key and gossips the removal.
func (c *Cluster) DeleteMetadata(key string) error { panic("unimplemented") }

// Dispatch runs the queued handler calls on the calling goroutine and returns
// how many ran. A call made from inside a handler returns 0 at once.
func (c *Cluster) Dispatch() int { panic("unimplemented") }

// Wait dispatches handlers as events arrive until timeout passes or the
// cluster stops; a negative timeout waits until the cluster stops.
func (c *Cluster) Wait(timeout time.Duration) { panic("unimplemented") }

// DecodeJSON decodes JSON into the payload value model: nil, bool, int64
// (integral numbers), float64, string, []any and map[string]any.
func DecodeJSON(s string) (any, error) { panic("unimplemented") }
