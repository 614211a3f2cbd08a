package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Request/reply.
//
// SendRequest sends the payload as an internal reliable message carrying a
// request id and the user's message type. The receiver queues the call of
// its HandleWithReply handler for Dispatch (handlers only ever run on the
// script's goroutine) and sends the handler's result, or why there is
// none, back as a reply with the same id.
//
// While SendRequest waits it keeps dispatching, like Wait: the caller's
// own handlers go on running, and so do those of every node sharing its
// pump (Config.Pump). A script often runs several nodes in one
// interpreter; without this, a request from one of them to another could
// never be answered, because the answering handler can only run on the
// very goroutine that is waiting.

// Internal message types of request/reply; below MinUserMessageType.
const (
	msgRequest = 40 // request id, user type, payload flags, payload
	msgReply   = 41 // request id, status, payload or error text
)

// Reply statuses.
const (
	replyOK        = 0
	replyNoHandler = 1 // no HandleWithReply handler for the type
	replyFailed    = 2 // the handler raised; an error text follows
	replyBusy      = 3 // too many requests waiting for Dispatch
)

// Errors of SendRequest beyond the engine's common ones.
var (
	// ErrNoHandler: the node that got a request has no reply handler for
	// its message type.
	ErrNoHandler = errors.New("no reply handler")
	// ErrRemote: the remote reply handler failed; the message carries its error.
	ErrRemote = errors.New("remote handler failed")
)

// pendingRequest is a request waiting for its reply.
type pendingRequest struct {
	node string
	ch   chan requestResult // buffered, one result
}

// requestResult is what a reply resolves to.
type requestResult struct {
	value any
	err   error
}

// HandleWithReply registers fn as the handler of requests of msgType: the
// value it returns (nil, bool, int64, float64, string, []any or
// map[string]any) is sent back to the requester, an error it returns is
// reported to the requester as ErrRemote with its text. It replaces any
// handler of msgType (plain or with reply); a nil fn removes it.
func (c *Cluster) HandleWithReply(msgType int, fn func(Message) (any, error)) error {
	if err := checkMsgType(msgType); err != nil {
		return err
	}
	c.handlersMu.Lock()
	defer c.handlersMu.Unlock()
	if fn == nil {
		delete(c.x.replyHandlers, msgType)
		return nil
	}
	if c.x.replyHandlers == nil {
		c.x.replyHandlers = make(map[int]func(Message) (any, error))
	}
	c.x.replyHandlers[msgType] = fn
	delete(c.handlers, msgType)
	return nil
}

func (c *Cluster) replyHandler(msgType int) func(Message) (any, error) {
	c.handlersMu.RLock()
	defer c.handlersMu.RUnlock()
	return c.x.replyHandlers[msgType]
}

// SendRequest sends payload to nodeID's reply handler of msgType and
// returns the handler's result. It fails with ErrNotFound for an unknown
// or failed node, ErrTimeout when no reply came within timeout (or the
// request could not be delivered), ErrNoHandler when the node has no reply
// handler for msgType and ErrRemote when that handler failed. While it
// waits, queued handlers run as in Wait (see the package comment above).
// A request to this node runs its own handler directly.
func (c *Cluster) SendRequest(ctx context.Context, nodeID string, msgType int, payload any, timeout time.Duration) (any, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: timeout must be positive, got %v", ErrInvalidArgument, timeout)
	}
	body, flags, err := c.prepare(msgType, payload, true)
	if err != nil {
		return nil, err
	}
	if nodeID == c.id {
		return c.localRequest(msgType, body, flags)
	}
	p := c.peers.get(nodeID)
	if p == nil {
		return nil, fmt.Errorf("%w: unknown node %q", ErrNotFound, nodeID)
	}
	if p.state != StateAlive {
		return nil, fmt.Errorf("%w: node %q is %s", ErrNotFound, nodeID, p.state)
	}
	id := c.x.nextReq.Add(1)
	pr := &pendingRequest{node: nodeID, ch: make(chan requestResult, 1)}
	c.x.reqMu.Lock()
	if c.x.pending == nil {
		c.x.pending = make(map[uint64]*pendingRequest)
	}
	c.x.pending[id] = pr
	c.x.reqMu.Unlock()
	defer func() {
		c.x.reqMu.Lock()
		delete(c.x.pending, id)
		c.x.reqMu.Unlock()
	}()

	req := binary.AppendUvarint(nil, id)
	req = binary.AppendUvarint(req, uint64(msgType))
	req = append(req, flags)
	req = append(req, body...)
	sent, err := c.senders.enqueue(ctx, c, nodeID, outMsg{msgType: msgRequest, payload: req}, time.Now().Add(timeout), true)
	if err != nil {
		return nil, err
	}
	return c.awaitReply(ctx, pr, sent, msgType, timeout)
}

// awaitReply dispatches the pump's nodes until the reply, a failure or
// the deadline.
func (c *Cluster) awaitReply(ctx context.Context, pr *pendingRequest, sent chan error, msgType int, timeout time.Duration) (any, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// The peer's failure is seen by polling the peer table.
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	end := time.Now().Add(timeout)
	for {
		c.pump.Dispatch()
		if !time.Now().Before(end) {
			// A handler run above may have taken the whole time.
			return nil, fmt.Errorf("%w: no reply from node %q to a request of type %d within %v", ErrTimeout, pr.node, msgType, timeout)
		}
		select {
		case r := <-pr.ch:
			return r.value, r.err
		case err := <-sent:
			if err != nil {
				return nil, fmt.Errorf("%w: request to node %q could not be delivered: %v", ErrTimeout, pr.node, trimSentinel(err))
			}
			sent = nil
		case <-c.pump.notify:
		case <-poll.C:
			if p := c.peers.get(pr.node); p == nil || p.state != StateAlive {
				return nil, fmt.Errorf("%w: node %q failed before replying to a request of type %d", ErrTimeout, pr.node, msgType)
			}
		case <-c.stopCh:
			return nil, errNotRunning()
		case <-ctx.Done():
			return nil, fmt.Errorf("request to node %q: %w", pr.node, ctx.Err())
		case <-deadline.C:
		}
	}
}

// localRequest answers a request to this node with its own handler, at
// once: queueing it would deadlock when the caller is itself a handler.
func (c *Cluster) localRequest(msgType int, body []byte, flags byte) (any, error) {
	fn := c.replyHandler(msgType)
	if fn == nil {
		return nil, fmt.Errorf("%w: node %q has no reply handler for message type %d", ErrNoHandler, c.id, msgType)
	}
	v, err := decodePayload(&envelope{flags: flags, payload: body})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	res, err := c.callReplyHandler(fn, Message{Type: msgType, Sender: c.LocalNode(), Payload: v})
	if err != nil {
		return nil, fmt.Errorf("%w: handler on node %q for message type %d failed: %s", ErrRemote, c.id, msgType, err.Error())
	}
	// Round-trip the result so the caller gets a copy, as from a peer.
	enc, rflags, err := c.encodePayload(res)
	if err != nil {
		return nil, fmt.Errorf("%w: handler on node %q for message type %d returned an unsendable value: %s", ErrRemote, c.id, msgType, err.Error())
	}
	return decodePayload(&envelope{flags: rflags, payload: enc})
}

// callReplyHandler runs fn, turning a panic into an error.
func (c *Cluster) callReplyHandler(fn func(Message) (any, error), m Message) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.stats.handlerErrors.Add(1)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	res, err = fn(m)
	if err != nil {
		c.stats.handlerErrors.Add(1)
	}
	return res, err
}

// receiveRequest queues the handling of a request for Dispatch. It runs
// on a network goroutine and never blocks on the script.
func (c *Cluster) receiveRequest(e *envelope) {
	if e.sender == c.id || c.peers.get(e.sender) == nil {
		return // not a member: there is no one to reply to
	}
	r := reader{b: e.payload}
	id := r.uvarint()
	msgType := int(r.uvarint())
	fl := r.bytes(1)
	if r.err != nil || checkMsgType(msgType) != nil {
		c.stats.decodeErrors.Add(1)
		return
	}
	v, err := decodePayload(&envelope{flags: fl[0], payload: r.b})
	if err != nil {
		c.stats.decodeErrors.Add(1)
		c.sendReplyNow(e.sender, id, replyFailed, []byte("request payload could not be decoded"))
		return
	}
	if int(c.x.inflight.Add(1)) > c.cfg.EventQueueSize {
		c.x.inflight.Add(-1)
		c.sendReplyNow(e.sender, id, replyBusy, nil)
		return
	}
	sender := e.sender
	ok := c.queue.push(event{kind: evCall, fn: func() {
		c.x.inflight.Add(-1)
		c.answer(sender, id, msgType, v)
	}}, pushForce)
	if !ok {
		c.x.inflight.Add(-1)
	}
}

// answer runs the reply handler for one request (in Dispatch) and replies.
func (c *Cluster) answer(sender string, id uint64, msgType int, v any) {
	fn := c.replyHandler(msgType)
	if fn == nil {
		c.stats.noHandler.Add(1)
		c.sendReply(sender, id, replyNoHandler, nil, 0)
		return
	}
	res, err := c.callReplyHandler(fn, Message{Type: msgType, Sender: c.senderSnapshot(sender), Payload: v})
	if err != nil {
		c.sendReply(sender, id, replyFailed, []byte(err.Error()), 0)
		return
	}
	body, flags, err := c.encodePayload(res)
	if err == nil && len(body) > MaxReliablePayload {
		err = fmt.Errorf("%w: reply is %d bytes encoded, the limit is %d", ErrTooLarge, len(body), MaxReliablePayload)
	}
	if err != nil {
		c.stats.handlerErrors.Add(1)
		c.sendReply(sender, id, replyFailed, []byte("the reply could not be sent: "+err.Error()), 0)
		return
	}
	c.sendReply(sender, id, replyOK, body, flags)
}

// sendReply queues a reply for the requester.
func (c *Cluster) sendReply(to string, id uint64, status byte, body []byte, flags byte) {
	b := binary.AppendUvarint(nil, id)
	b = append(b, status, flags)
	b = append(b, body...)
	_, err := c.senders.enqueue(context.Background(), c, to, outMsg{msgType: msgReply, payload: b}, time.Now().Add(c.sendTimeout(-1)), false)
	if err != nil {
		c.log.Debug("reply not sent", "to", to, "err", err)
	}
}

// sendReplyNow queues a reply from the receive path, which must not wait
// for window space: that path also reads the acknowledgements freeing it.
func (c *Cluster) sendReplyNow(to string, id uint64, status byte, body []byte) {
	b := binary.AppendUvarint(nil, id)
	b = append(b, status, 0)
	b = append(b, body...)
	if _, err := c.senders.enqueue(context.Background(), c, to, outMsg{msgType: msgReply, payload: b, internal: true}, time.Time{}, false); err != nil {
		c.log.Debug("reply not sent", "to", to, "err", err)
	}
}

// receiveReply completes the pending request a reply answers.
func (c *Cluster) receiveReply(e *envelope) {
	r := reader{b: e.payload}
	id := r.uvarint()
	hdr := r.bytes(2)
	if r.err != nil {
		c.stats.decodeErrors.Add(1)
		return
	}
	c.x.reqMu.Lock()
	pr := c.x.pending[id]
	c.x.reqMu.Unlock()
	if pr == nil || pr.node != e.sender {
		return // timed out already, or not ours
	}
	var res requestResult
	switch hdr[0] {
	case replyOK:
		v, err := decodePayload(&envelope{flags: hdr[1], payload: r.b})
		if err != nil {
			c.stats.decodeErrors.Add(1)
			res.err = fmt.Errorf("%w: the reply from node %q could not be decoded: %v", ErrRemote, e.sender, err)
		}
		res.value = v
	case replyNoHandler:
		res.err = fmt.Errorf("%w: node %q has no reply handler for this message type", ErrNoHandler, e.sender)
	case replyBusy:
		res.err = fmt.Errorf("%w: node %q has too many requests waiting and refused this one", ErrTimeout, e.sender)
	default:
		res.err = fmt.Errorf("%w: handler on node %q failed: %s", ErrRemote, e.sender, string(r.b))
	}
	select {
	case pr.ch <- res:
	default:
	}
}
