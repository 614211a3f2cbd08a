package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/scriptling-contrib/gossip/internal/codec"
)

// Delivery semantics.
//
// Unreliable messages go out as single UDP packets (memberlist
// SendBestEffort) when Send returns; they may be lost, duplicated or
// reordered, and an encoded envelope over MaxUnreliablePayload is refused
// with ErrTooLarge.
//
// Reliable messages enter a per-destination window (reliable.go) and are
// delivered to each destination exactly once and in the order sent, or
// their sender is told:
//
//   - SendTo returns once the destination acknowledged the message: it is
//     in the destination's event queue and its handler runs when that node
//     dispatches. When the timeout passes first it returns ErrTimeout,
//     saying whether the message was not sent at all (the window stayed
//     full: retrying is safe) or is unconfirmed (it is still queued and will
//     be delivered at most once).
//   - Send and SendTagged return once the message is in every destination's
//     window, waiting for window space up to the timeout; on timeout they
//     return ErrTimeout naming the nodes that did not get it (the others
//     did).
//   - A message in a window fails only when its destination leaves, is
//     removed by memberlist or restarts, or this node stops: it is counted
//     in Stats().ReliableFailed and logged, and a waiting SendTo returns the
//     error. A suspect or dead destination keeps its window until it comes
//     back.
//
// Send and SendTagged skip this node; SendTo(own id) delivers to this
// node's own handlers through the queue, like any other message.

// Every reliable send blocks for at most timeout (negative:
// Config.SendTimeout) and never past ctx; unreliable sends never block.

// Send sends payload to every alive or suspect node but this one (see
// sendTargets); a dead or leaving node is skipped.
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

// SendTo sends payload to one alive or suspect node; an unknown id, or a
// node that is dead or leaving, is ErrNotFound. A reliable
// SendTo waits until the destination acknowledges the message (see above).
func (c *Cluster) SendTo(ctx context.Context, nodeID string, msgType int, payload any, reliable bool, timeout time.Duration) error {
	return c.sendTo(ctx, nodeID, msgType, payload, reliable, timeout)
}

// sendTo implements SendTo.
func (c *Cluster) sendTo(ctx context.Context, nodeID string, msgType int, payload any, reliable bool, timeout time.Duration) error {
	var scratch [sendScratch]byte
	body, flags, err := c.prepareInto(scratch[:0], msgType, payload, reliable)
	if err != nil {
		return err
	}
	if nodeID == c.id {
		// The handler gets a decoded copy, as a peer would, never the
		// caller's value: payload then never escapes the call, which saves
		// every caller of the send functions an allocation per value.
		v, err := decodePayload(&envelope{flags: flags, payload: body})
		if err != nil {
			return wrapCodecError(err)
		}
		c.queue.push(event{kind: evMessage, msgType: msgType, sender: c.id, payload: v}, pushForce)
		return nil
	}
	p := c.peers.get(nodeID)
	if p == nil {
		return fmt.Errorf("%w: unknown node %q", ErrNotFound, nodeID)
	}
	if !sendable(p.state) {
		return fmt.Errorf("%w: node %q is %s", ErrNotFound, nodeID, p.state)
	}
	if !reliable {
		return c.sendUnreliable(p, msgType, "", body, flags)
	}
	timeout = c.sendTimeout(timeout)
	deadline := time.Now().Add(timeout)
	m := outMsg{msgType: msgType, flags: flags, payload: body}
	done, err := c.senders.enqueueBy(ctx, c, p, nodeID, &m, &sendDeadline{at: deadline}, true)
	if err != nil {
		return err
	}
	return c.awaitAck(ctx, nodeID, done, deadline, timeout)
}

// awaitAck waits for the outcome of a message in a window.
func (c *Cluster) awaitAck(ctx context.Context, nodeID string, done chan error, deadline time.Time, timeout time.Duration) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("%w: delivery to node %q unconfirmed after %v: the message is still queued and will be delivered at most once", ErrTimeout, nodeID, timeout)
	case <-ctx.Done():
		return fmt.Errorf("delivery to node %q unconfirmed (the message is still queued and will be delivered at most once): %w", nodeID, ctx.Err())
	case <-c.stopCh:
		return errNotRunning()
	}
}

// sendMany implements Send and SendTagged.
func (c *Cluster) sendMany(ctx context.Context, msgType int, payload any, reliable bool, timeout time.Duration, tag string, keep func(*peerInfo) bool) error {
	var scratch [sendScratch]byte
	body, flags, err := c.prepareInto(scratch[:0], msgType, payload, reliable)
	if err != nil {
		return err
	}
	if reliable {
		return c.sendManyReliable(ctx, msgType, tag, body, flags, keep, c.sendTimeout(timeout))
	}
	var errs []error
	for _, p := range c.sendTargets(keep) {
		if err := c.sendUnreliable(p, msgType, tag, body, flags); err != nil {
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

// sendManyReliable puts a message into the window of every destination,
// all sharing one deadline; it names the nodes whose window stayed full.
func (c *Cluster) sendManyReliable(ctx context.Context, msgType int, tag string, body []byte, flags byte, keep func(*peerInfo) bool, timeout time.Duration) error {
	deadline := sendDeadline{timeout: timeout}
	m := outMsg{msgType: msgType, tag: tag, flags: flags, payload: body}
	var missed []string
	var last error
	for _, p := range c.sendTargets(keep) {
		_, err := c.senders.enqueueBy(ctx, c, p, p.id, &m, &deadline, false)
		if errors.Is(err, ErrNotRunning) {
			return err
		}
		if err != nil {
			missed, last = append(missed, p.id), err
		}
	}
	if len(missed) == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("not sent to %s (the other nodes got it): %w", quoteIDs(missed), ctx.Err())
	}
	return fmt.Errorf("%w: not sent to %s within %v: their reliable windows stayed full (the other nodes got it): %v", ErrTimeout, quoteIDs(missed), timeout, last)
}

// quoteIDs lists node ids for an error message.
func quoteIDs(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return "node " + strings.Join(q, ", ")
}

// sendScratch is the stack buffer a send encodes its payload into: the
// encoding is only copied into envelopes before the send returns, so
// payloads up to this size cost no allocation for it.
const sendScratch = 512

// prepare checks the common preconditions and encodes the payload.
func (c *Cluster) prepare(msgType int, payload any, reliable bool) ([]byte, byte, error) {
	return c.prepareInto(nil, msgType, payload, reliable)
}

// prepareInto is prepare encoding into dst's space (see encodePayloadInto).
func (c *Cluster) prepareInto(dst []byte, msgType int, payload any, reliable bool) ([]byte, byte, error) {
	if !c.running() || c.left.Load() {
		return nil, 0, errNotRunning()
	}
	if err := checkMsgType(msgType); err != nil {
		return nil, 0, err
	}
	body, flags, err := c.encodePayloadInto(dst, payload)
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

// receive handles one incoming envelope. Only internal messages keep parts
// of buf past the call (see receiveStream); the envelope itself stays on
// the stack for the others.
func (c *Cluster) receive(buf []byte, viaStream bool) {
	var env envelope
	e := &env
	if err := e.decodeNamed(buf, c.tokenKey, &c.receiver); err != nil {
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
	if e.msgType == msgAck {
		c.receiveAck(e, viaStream)
		return
	}
	c.deliver(e, pushDrop)
}

// deliver acts on an unreliable envelope: internal messages are handled at
// once, user messages are decoded and queued for Dispatch unless the queue
// is full.
func (c *Cluster) deliver(e *envelope, mode pushMode) bool {
	v, ok := c.userPayload(e)
	if !ok {
		return true
	}
	if !c.queue.push(event{kind: evMessage, msgType: e.msgType, sender: e.sender, payload: v}, mode) {
		if mode == pushDrop && c.running() {
			c.stats.unreliableDropped.Add(1)
		}
		return false
	}
	c.stats.unreliableReceived.Add(1)
	return true
}

// deliverWithin acts on a reliable envelope whose turn has come. A user
// message waits up to wait for room in the queue; false means it was not
// queued (the queue stayed full, or it closed) and must be sent again.
//
// The payload is queued as its encoded bytes and decoded by Dispatch: the
// stream's reader, which every message of a sender passes through one at
// a time, only copies it, and the decoding runs on the dispatching
// goroutine, which has time to spare while the reader is the busier one.
func (c *Cluster) deliverWithin(e *envelope, wait time.Duration) bool {
	if !c.userMessage(e) {
		return true
	}
	ev := event{kind: evMessage, msgType: e.msgType, sender: e.sender, raw: bytes.Clone(e.payload), rawFlags: e.flags}
	if !c.queue.pushWithin(ev, wait) {
		return false
	}
	c.stats.reliableReceived.Add(1)
	return true
}

// userPayload handles internal messages and decodes user ones; ok is false
// when nothing is left to queue (handled internally, or dropped and
// counted).
func (c *Cluster) userPayload(e *envelope) (any, bool) {
	if !c.userMessage(e) {
		return nil, false
	}
	v, err := decodePayload(e)
	if err != nil {
		c.payloadError(e.sender, e.msgType, err)
		return nil, false
	}
	return v, true
}

// userMessage handles internal messages and checks a user message's tag;
// false means nothing is left to queue (handled internally, or dropped and
// counted).
func (c *Cluster) userMessage(e *envelope) bool {
	if e.msgType < MinUserMessageType {
		// A copy, so that e (on the receive path's stack) never escapes:
		// internal handlers may keep the envelope.
		internal := *e
		c.handleInternal(&internal)
		return false
	}
	if e.tag != "" && !hasTag(c.cfg.Tags, e.tag) {
		c.stats.tagDropped.Add(1)
		return false
	}
	return true
}

// payloadError counts and logs a user payload that did not decode.
func (c *Cluster) payloadError(sender string, msgType int, err error) {
	c.stats.decodeErrors.Add(1)
	if errors.Is(err, codec.ErrTooLarge) {
		c.log.Error("refusing message that would decompress past the size limit", "from", sender, "type", msgType, "err", err)
	} else {
		c.log.Debug("dropping undecodable message", "from", sender, "err", err)
	}
}

// mlNode is the memberlist address of p.
func (p *peerInfo) mlNode() *memberlist.Node {
	return &memberlist.Node{Name: p.id, Addr: p.ip, Port: p.port}
}

// handleInternal dispatches engine protocol messages.
func (c *Cluster) handleInternal(e *envelope) {
	switch e.msgType {
	case msgMetaUpdate:
		c.applyMetaUpdate(e)
	case msgMetaPull:
		c.sendMetaTo(e.sender)
	case msgMetaFetch:
		c.answerFetch(e)
	case msgMetaChunk:
		c.receiveChunk(e)
	case msgRequest:
		c.receiveRequest(e)
	case msgReply:
		c.receiveReply(e)
	case msgKeyRequest:
		c.handleKeyRequest(e)
	case msgKeyReply:
		c.handleKeyReply(e)
	default:
		if !c.receiveChannel(e) {
			c.stats.decodeErrors.Add(1)
		}
	}
}
