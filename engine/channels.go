package engine

import (
	"fmt"
)

// Feature channels.
//
// A feature package that speaks its own protocol (leader election's
// claims and votes) opens a channel: a message type of its own in
// [MinChannelType, MaxChannelType], below MinUserMessageType, so Handle
// and the other user registrations refuse it and a script never sees its
// traffic. Channel messages travel in the engine's envelope, so they are
// authenticated by the bearer token and encrypted like every other, and
// arrive only from members.

// The message types reserved for feature channels.
const (
	MinChannelType = 64
	MaxChannelType = 127
)

// ChannelHandler receives one message of a channel: the sender (a member,
// never this node) and the body, which it must not keep after it returns.
// It runs on the network's receive goroutine, so it must not block: slow
// work goes to the feature's own goroutine, and script callbacks go
// through Post. A non-nil error marks the body malformed; it is counted in
// Stats().DecodeErrors.
type ChannelHandler func(from string, body []byte) error

// Channel is one open feature channel of a node.
type Channel struct {
	c       *Cluster
	msgType int
}

// OpenChannel opens the channel of message type t on this node, with fn
// receiving its messages. It fails with ErrInvalidArgument when t is
// outside [MinChannelType, MaxChannelType], fn is nil, or t is already
// open: each feature picks its own types.
func (c *Cluster) OpenChannel(t int, fn ChannelHandler) (*Channel, error) {
	if t < MinChannelType || t > MaxChannelType {
		return nil, fmt.Errorf("%w: channel type must be from %d to %d, got %d", ErrInvalidArgument, MinChannelType, MaxChannelType, t)
	}
	if fn == nil {
		return nil, errNilHandler("channel handler")
	}
	c.features.chanMu.Lock()
	defer c.features.chanMu.Unlock()
	if _, ok := c.features.channels[t]; ok {
		return nil, fmt.Errorf("%w: channel type %d is already open", ErrInvalidArgument, t)
	}
	if c.features.channels == nil {
		c.features.channels = map[int]ChannelHandler{}
	}
	c.features.channels[t] = fn
	return &Channel{c: c, msgType: t}, nil
}

// Close stops delivering the channel's messages; its type may be opened
// again. Closing twice does nothing.
func (ch *Channel) Close() {
	ch.c.features.chanMu.Lock()
	delete(ch.c.features.channels, ch.msgType)
	ch.c.features.chanMu.Unlock()
}

// SendTo sends body to one node as a single datagram: it may be lost, so
// the feature's protocol repeats what matters. The node may be in any
// state this node knows it in: an answer goes back to the sender of a
// message just received even while the failure detector suspects it. It
// fails with ErrNotFound for an unknown node or this one, ErrNotRunning
// when this node cannot send, and ErrTooLarge over MaxUnreliablePayload.
func (ch *Channel) SendTo(nodeID string, body []byte) error {
	c := ch.c
	if !c.CanSend() {
		return errNotRunning()
	}
	p := c.peers.get(nodeID)
	if p == nil || nodeID == c.id {
		return fmt.Errorf("%w: unknown node %q", ErrNotFound, nodeID)
	}
	return ch.send(p, body)
}

// SendToAll sends body to every alive node but this one, one datagram
// each; failures are logged, since the protocol repeats.
func (ch *Channel) SendToAll(body []byte) {
	c := ch.c
	if !c.CanSend() {
		return
	}
	for _, p := range c.alivePeers(nil) {
		if err := ch.send(p, body); err != nil {
			c.log.Debug("channel message not sent", "type", ch.msgType, "peer", p.id, "err", err)
		}
	}
}

func (ch *Channel) send(p *peerInfo, body []byte) error {
	c := ch.c
	env := encodeEnvelope(&envelope{msgType: ch.msgType, sender: c.id, payload: body}, c.tokenKey)
	if len(env) > MaxUnreliablePayload {
		return fmt.Errorf("%w: channel message is %d bytes, the limit is %d", ErrTooLarge, len(env), MaxUnreliablePayload)
	}
	if err := c.ml.SendBestEffort(p.mlNode(), env); err != nil {
		return fmt.Errorf("%w: send to %q: %v", ErrTimeout, p.id, err)
	}
	return nil
}

// receiveChannel hands a message of an open channel to its handler; it
// reports false when e's type is no open channel.
func (c *Cluster) receiveChannel(e *envelope) bool {
	c.features.chanMu.RLock()
	fn := c.features.channels[e.msgType]
	c.features.chanMu.RUnlock()
	if fn == nil {
		return false
	}
	if err := fn(e.sender, e.payload); err != nil {
		c.stats.decodeErrors.Add(1)
		c.log.Debug("malformed channel message", "type", e.msgType, "from", e.sender, "err", err)
	}
	return true
}
