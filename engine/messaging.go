package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scriptling-contrib/gossip/engine/codec"
)

// Delivery semantics.
//
// Unreliable messages go out as single UDP packets (memberlist
// SendBestEffort) when Send returns; they may be lost, duplicated or
// reordered, and an encoded envelope over MaxUnreliablePayload is refused
// with ErrTooLarge.
//
// Reliable messages are handed to a per-destination sender goroutine and
// Send/SendTagged return once every destination has them queued: they do
// not wait for the network, so one slow or dead peer never holds up the
// rest. Each destination receives them exactly once and in the order they
// were sent (see reliable.go). A destination that stays unreachable after
// retries is logged and counted in Stats().ReliableFailed. SendTo to a
// single node, in contrast, waits for the write and returns its error.
//
// Send and SendTagged skip this node; SendTo(own id) delivers to this
// node's own handlers through the queue, like any other message.

// A reliable send blocks while a destination's queue is full, for at most
// timeout (negative: Config.SendTimeout) and never past ctx; unreliable
// sends never block.

// Send sends payload to every alive node but this one.
func (c *Cluster) Send(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration) error {
	return c.sendMany(ctx, msgType, payload, reliable, timeout, "", nil)
}

// SendTagged sends payload to every alive node carrying tag. Receivers
// check their own tags again, so a node without the tag never runs the
// handler even if the sender's view of its tags is stale.
func (c *Cluster) SendTagged(ctx context.Context, tag string, msgType int, payload any, reliable bool, timeout time.Duration) error {
	if tag == "" {
		return fmt.Errorf("%w: tag must not be empty", ErrInvalidArgument)
	}
	return c.sendMany(ctx, msgType, payload, reliable, timeout, tag, func(p *peerInfo) bool {
		return p.header != nil && hasTag(p.header.tags, tag)
	})
}

// SendTo sends payload to one node; an unknown id is ErrNotFound. A reliable
// SendTo waits until the message is written to the peer (after retries) and
// returns ErrTimeout if it could not be.
func (c *Cluster) SendTo(ctx context.Context, nodeID string, msgType int, payload any, reliable bool, timeout time.Duration) error {
	body, flags, err := c.prepare(msgType, payload, reliable)
	if err != nil {
		return err
	}
	if nodeID == c.id {
		ev := event{kind: evMessage, msgType: msgType, sender: c.id, payload: payload}
		if v, err := decodePayload(&envelope{flags: flags, payload: body}); err == nil {
			ev.payload = v // deliver a copy, as a peer would get
		}
		c.queue.push(ev, pushForce)
		return nil
	}
	c.refreshIfStale()
	p := c.peers.get(nodeID)
	if p == nil {
		return fmt.Errorf("%w: unknown node %q", ErrNotFound, nodeID)
	}
	if p.state != StateAlive {
		return fmt.Errorf("%w: node %q is %s", ErrNotFound, nodeID, p.state)
	}
	if !reliable {
		return c.sendUnreliable(p, msgType, "", body, flags)
	}
	timeout = c.sendTimeout(timeout)
	callCtx, cancel := boundedContext(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	if err := c.senders.enqueue(callCtx, c, nodeID, outMsg{msgType: msgType, flags: flags, payload: body, done: done}); err != nil {
		if callCtx.Err() != nil {
			return endedError(ctx, fmt.Sprintf("reliable message to node %q not sent: its queue stayed full", nodeID), timeout)
		}
		return err
	}
	select {
	case err := <-done:
		return err
	case <-callCtx.Done():
		return endedError(ctx, fmt.Sprintf("reliable message to node %q not confirmed", nodeID), timeout)
	case <-c.stopCh:
		return errNotRunning()
	}
}

// sendMany implements Send and SendTagged.
func (c *Cluster) sendMany(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration, tag string, keep func(*peerInfo) bool) error {
	body, flags, err := c.prepare(msgType, payload, reliable)
	if err != nil {
		return err
	}
	timeout = c.sendTimeout(timeout)
	callCtx, cancel := boundedContext(ctx, timeout)
	defer cancel()
	var errs []error
	for _, p := range c.alivePeers(keep) {
		if reliable {
			err = c.senders.enqueue(callCtx, c, p.id, outMsg{msgType: msgType, tag: tag, flags: flags, payload: body})
			if callCtx.Err() != nil {
				return endedError(ctx, fmt.Sprintf("reliable message to node %q not sent: its queue stayed full", p.id), timeout)
			}
		} else {
			err = c.sendUnreliable(p, msgType, tag, body, flags)
		}
		if errors.Is(err, ErrNotRunning) {
			return err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Failures of single peers are logged and counted, not returned:
		// the others did get the message, and membership will catch up.
		c.log.Debug("send failed for some peers", "errors", errors.Join(errs...))
	}
	return nil
}

// prepare checks the common preconditions and encodes the payload.
func (c *Cluster) prepare(msgType int, payload any, reliable bool) ([]byte, byte, error) {
	if !c.running() || c.left.Load() {
		return nil, 0, errNotRunning()
	}
	if err := checkMsgType(msgType); err != nil {
		return nil, 0, err
	}
	body, flags, err := c.encodePayload(payload)
	if err != nil {
		return nil, 0, err
	}
	limit, kind := MaxUnreliablePayload-64-len(c.id), "unreliable"
	if reliable {
		limit, kind = MaxReliablePayload, "reliable"
	}
	if len(body) > limit {
		return nil, 0, fmt.Errorf("%w: %s payload is %d bytes encoded, the limit is %d", ErrTooLarge, kind, len(body), limit)
	}
	return body, flags, nil
}

// sendUnreliable sends one UDP envelope to p.
func (c *Cluster) sendUnreliable(p *peerInfo, msgType int, tag string, body []byte, flags byte) error {
	env := encodeEnvelope(&envelope{flags: flags, msgType: msgType, sender: c.id, tag: tag, payload: body}, c.tokenKey)
	if len(env) > MaxUnreliablePayload {
		return fmt.Errorf("%w: unreliable message is %d bytes, the limit is %d", ErrTooLarge, len(env), MaxUnreliablePayload)
	}
	if err := c.ml.SendBestEffort(p.mlNode(), env); err != nil {
		c.stats.unreliableFailed.Add(1)
		return fmt.Errorf("%w: send to %q: %v", ErrTimeout, p.id, err)
	}
	c.stats.unreliableSent.Add(1)
	return nil
}

// receive handles one incoming envelope (already copied).
func (c *Cluster) receive(buf []byte, viaStream bool) {
	e, err := decodeEnvelope(buf, c.tokenKey)
	if err != nil {
		if errors.Is(err, errAuth) {
			c.stats.authFailures.Add(1)
		} else {
			c.stats.decodeErrors.Add(1)
		}
		return
	}
	if e.dest != 0 && e.dest != c.instance {
		return // meant for an earlier run of this node id
	}
	// Metadata may name owners not known yet (relayed broadcasts) and is
	// only stored, never handed to a handler; everything else must come
	// from a member.
	if e.reliable && !viaStream {
		// Sequenced messages only ever travel on the engine's streams. One
		// arriving in a datagram is forged or corrupt, and must not reach
		// the reorder buffer, whose backpressure would stall memberlist's
		// packet handler.
		c.stats.decodeErrors.Add(1)
		return
	}
	if e.msgType != msgMetaUpdate && e.msgType != msgMetaPull && !c.fromMember(e) {
		c.stats.notMember.Add(1)
		return
	}
	if e.reliable {
		c.receiver.receive(c, e)
		return
	}
	c.deliver(e, pushDrop)
}

// deliver acts on an envelope whose turn has come: internal messages are
// handled at once, user messages are decoded and queued for Dispatch.
// It returns false only when the queue refused the event.
func (c *Cluster) deliver(e *envelope, mode pushMode) bool {
	if e.msgType < MinUserMessageType {
		c.handleInternal(e)
		return true
	}
	if e.tag != "" && !hasTag(c.cfg.Tags, e.tag) {
		c.stats.tagDropped.Add(1)
		return true
	}
	v, err := decodePayload(e)
	if err != nil {
		c.stats.decodeErrors.Add(1)
		if errors.Is(err, codec.ErrTooLarge) {
			c.log.Error("refusing message that would decompress past the size limit", "from", e.sender, "type", e.msgType, "err", err)
		} else {
			c.log.Debug("dropping undecodable message", "from", e.sender, "err", err)
		}
		return true
	}
	if !c.queue.push(event{kind: evMessage, msgType: e.msgType, sender: e.sender, payload: v}, mode) {
		if mode == pushDrop && c.running() {
			c.stats.unreliableDropped.Add(1)
		}
		return false
	}
	if e.reliable {
		c.stats.reliableReceived.Add(1)
	} else {
		c.stats.unreliableReceived.Add(1)
	}
	return true
}

// handleInternal dispatches engine protocol messages.
func (c *Cluster) handleInternal(e *envelope) {
	switch e.msgType {
	case msgMetaUpdate:
		c.applyMetaUpdate(e)
	case msgMetaPull:
		c.sendMetaTo(e.sender)
	case msgRequest:
		c.receiveRequest(e)
	case msgReply:
		c.receiveReply(e)
	case msgElectClaim, msgElectAck, msgElectResign:
		c.receiveElection(e)
	case msgKeyRequest:
		c.handleKeyRequest(e)
	case msgKeyReply:
		c.handleKeyReply(e)
	default:
		c.stats.decodeErrors.Add(1)
	}
}
