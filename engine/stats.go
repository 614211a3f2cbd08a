package engine

import (
	"sync/atomic"

	"github.com/scriptling-contrib/gossip/internal/streams"
)

// Stats is a snapshot of the engine's counters since New.
type Stats struct {
	ReliableSent        uint64 // reliable messages acknowledged by their destination
	ReliableReceived    uint64 // reliable user messages accepted for delivery
	ReliableFailed      uint64 // reliable messages failed unacknowledged (destination left, removed or restarted, or this node stopped)
	ReliableDuplicates  uint64 // reliable messages dropped as already delivered
	ReliableUnacked     uint64 // reliable messages sent or queued but not yet acknowledged, now
	ReliableRetransmits uint64 // reliable messages written again (after errors, gaps, timeouts, probes)
	UnreliableSent      uint64 // unreliable messages handed to the network
	UnreliableReceived  uint64 // unreliable user messages accepted for delivery
	UnreliableFailed    uint64 // unreliable sends the network refused
	UnreliableDropped   uint64 // unreliable messages dropped because the queue was full
	NoHandlerDropped    uint64 // messages whose type had no handler at delivery
	TagDropped          uint64 // tagged messages for a tag this node lacks
	DecodeErrors        uint64 // messages that could not be parsed or decoded
	AuthFailures        uint64 // messages or peers refused for a bad token proof
	NotMemberDropped    uint64 // messages from nodes that are not members (never admitted, e.g. refused at join)
	DecryptFailures     uint64 // packets, streams and frames refused as not sealed with an installed key
	ConnectionsRefused  uint64 // inbound TCP connections closed at once for exceeding the caps (total or per source)
	HandlerErrors       uint64 // handler failures (panics and RecordHandlerError)
	MetadataUpdates     uint64 // remote metadata versions applied
	QueueDepth          int    // events waiting for Dispatch
}

// counters holds the live values behind Stats.
type counters struct {
	reliableSent, reliableReceived, reliableFailed, reliableDuplicates, reliableRetransmits atomic.Uint64
	unreliableSent, unreliableReceived, unreliableFailed, unreliableDropped                 atomic.Uint64
	noHandler, tagDropped, decodeErrors, authFailures, handlerErrors, metaUpdates           atomic.Uint64
	notMember, decryptFailures                                                              atomic.Uint64
	metaPulls                                                                               atomic.Uint64 // for tests
}

// Stats returns a snapshot of the counters.
func (c *Cluster) Stats() Stats {
	s := &c.stats
	st := c.streamStats()
	return Stats{
		ReliableSent:        s.reliableSent.Load(),
		ReliableReceived:    s.reliableReceived.Load(),
		ReliableFailed:      s.reliableFailed.Load(),
		ReliableDuplicates:  s.reliableDuplicates.Load(),
		ReliableUnacked:     uint64(c.senders.unacked()),
		ReliableRetransmits: s.reliableRetransmits.Load(),
		UnreliableSent:      s.unreliableSent.Load(),
		UnreliableReceived:  s.unreliableReceived.Load(),
		UnreliableFailed:    s.unreliableFailed.Load(),
		UnreliableDropped:   s.unreliableDropped.Load(),
		NoHandlerDropped:    s.noHandler.Load(),
		TagDropped:          s.tagDropped.Load(),
		DecodeErrors:        s.decodeErrors.Load(),
		AuthFailures:        s.authFailures.Load(),
		NotMemberDropped:    s.notMember.Load(),
		DecryptFailures:     s.decryptFailures.Load() + st.DecryptFailures,
		ConnectionsRefused:  st.ConnsRefused,
		HandlerErrors:       s.handlerErrors.Load(),
		MetadataUpdates:     s.metaUpdates.Load(),
		QueueDepth:          c.queue.depth(),
	}
}

// RecordHandlerError counts a handler failure the caller caught itself (the
// Scriptling binding reports script errors this way), so Stats shows them
// next to the panics the engine recovers.
func (c *Cluster) RecordHandlerError() {
	c.stats.handlerErrors.Add(1)
}

// streamStats are the streams transport's counters (zero before start):
// Stats reports its handshakes and records that failed to authenticate
// and the inbound connections it refused.
func (c *Cluster) streamStats() streams.Stats {
	if c.state.Load() == stateNew || c.tr == nil {
		return streams.Stats{}
	}
	return c.tr.Stats()
}
