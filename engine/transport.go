package engine

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/streams"
)

// Transport wiring.
//
// Reliable messages do not use memberlist's SendReliable, which opens one
// TCP connection per message. They travel over internal/streams: one
// persistent, ordered connection per destination, sharing memberlist's TCP
// port (the wrapper tells its own connections apart from memberlist's by a
// preamble). The engine therefore builds memberlist's transport itself and
// wraps it, and wraps an injected Config.Transport the same way, so tests
// that inject faults exercise the production path.
//
// The streams wrapper gets memberlist's keyring, so streams are encrypted
// with the same keys as gossip and follow key rotation.

// streamLabel is checked in the stream handshake so that a stream from some
// other application sharing the port is refused rather than misread.
const streamLabel = "scriptling-gossip/reliable/1"

// streamFrameSlack is the envelope overhead allowed on top of the largest
// reliable payload.
const streamFrameSlack = 64 << 10

// streamIdleTimeout closes a stream unused this long; the next message
// redials (a TCP and stream handshake), so it only needs to outlast bursts.
const streamIdleTimeout = 15 * time.Second

// streamBufferSize sizes each stream's read and write buffer.
const streamBufferSize = 16 << 10

// bindRetries is how often a dynamic port is retried when another socket
// grabs the TCP port between the kernel picking it and the UDP bind (the
// same retry memberlist performs for its own transport).
const bindRetries = 10

// buildTransport returns the streams-wrapped transport memberlist should
// use. With no injected transport it binds a NetTransport on the configured
// address; a dynamic port (0) is replaced in mc by the port obtained, so the
// node advertises the real one.
func (c *Cluster) buildTransport(mc *memberlist.Config) (*streams.Transport, error) {
	inner := c.cfg.Transport
	if inner == nil {
		nc := &memberlist.NetTransportConfig{
			BindAddrs: []string{mc.BindAddr},
			BindPort:  mc.BindPort,
			Logger:    mc.Logger,
		}
		limit := 1
		if mc.BindPort == 0 {
			limit = bindRetries
		}
		var nt *memberlist.NetTransport
		var err error
		for range limit {
			if nt, err = memberlist.NewNetTransport(nc); err == nil || !strings.Contains(err.Error(), "address already in use") {
				break
			}
		}
		if err != nil {
			return nil, err
		}
		if mc.BindPort == 0 {
			port := nt.GetAutoBindPort()
			mc.BindPort = port
			if c.cfg.advertisePort == 0 {
				mc.AdvertisePort = port
			}
		}
		inner = nt
	}
	var packetFilter streams.PacketFilter
	var forwardFilter streams.ForwardFilter
	if mc.Keyring != nil {
		check := newSealCheck(mc.Keyring, func() { c.stats.decryptFailures.Add(1) }, mc.TCPTimeout)
		packetFilter, forwardFilter = check.packet, check.stream
	}
	return streams.Wrap(inner, streams.Config{
		PacketFilter:  packetFilter,
		ForwardFilter: forwardFilter,
		Handler:       c.receiveStream,
		Keyring:       mc.Keyring,
		Label:         streamLabel,
		Logger:        c.log.With("component", "streams"),
		MaxFrameSize:  MaxReliablePayload + streamFrameSlack,
		IdleTimeout:   streamIdleTimeout,
		// Every peer pair may hold a stream each way (metadata pulls alone
		// open them), so buffers are per connection and kept modest; frames
		// larger than the buffer bypass it.
		WriteBufferSize: streamBufferSize,
		ReadBufferSize:  streamBufferSize,
	}), nil
}

// receiveStream is the streams handler: one reliable envelope per frame, on
// the inbound stream's goroutine. It may block on a full event queue, which
// stops reading the stream and so pushes back on the sender over TCP. The
// frame is owned by the handler, so it is not copied.
func (c *Cluster) receiveStream(_ net.Addr, frame []byte) {
	if !c.running() {
		// Not started yet (inside memberlist.Create) or stopped: see
		// delegate.NotifyMsg.
		c.stats.notMember.Add(1)
		return
	}
	c.receive(frame, true)
}

// finalAdvertise is the "host:port" memberlist will advertise, asked of the
// transport the way memberlist's Create asks it, so that it is known before
// Create starts the packet handler.
func (c *Cluster) finalAdvertise(tr memberlist.Transport, mc *memberlist.Config) (string, error) {
	ip, port, err := tr.FinalAdvertiseAddr(mc.AdvertiseAddr, mc.AdvertisePort)
	if err != nil {
		return "", fmt.Errorf("%w: no address to advertise for bind_addr %q: %v", ErrInvalidArgument, c.cfg.BindAddr, err)
	}
	return joinHostPort(ip.String(), uint16(port)), nil
}
