// Package streams carries application frames over persistent, ordered TCP
// streams that share memberlist's TCP port.
//
// Wrap decorates a memberlist.NodeAwareTransport. The wrapper hands
// memberlist its own stream connections untouched and keeps those that open
// with the stream protocol's preamble for itself. Send writes a frame to a
// long-lived connection per destination address, dialled on first use, so
// frames to one address arrive in the order Send was called and bursts from
// concurrent senders are batched into few system calls.
//
// Delivery follows TCP: a frame for which Send reports an error may still
// have been delivered (the connection can fail after the peer read it), and
// a nil error does not prove the peer processed it. Callers that retry must
// deduplicate, for example with their own sequence numbers.
package streams

import (
	"crypto/sha256"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/ratelog"
)

// Transport is a memberlist.NodeAwareTransport that also carries frames on
// persistent streams. Create it with Wrap and pass it as memberlist's
// Config.Transport (or use it on its own).
type Transport struct {
	inner   memberlist.NodeAwareTransport
	cfg     Config
	log     *slog.Logger
	digest  [sha256.Size]byte
	psks    pskCache
	limits  sessionLimits
	plog    *ratelog.Limiter // peer-triggered events
	limiter *inboundLimiter

	streamCh   chan net.Conn           // connections for memberlist
	filtered   chan *memberlist.Packet // packets that passed PacketFilter
	shutdownCh chan struct{}           // closed when Shutdown starts
	demuxStop  chan struct{}           // closed once inner has shut down

	mu       sync.Mutex // guards peers
	peers    map[string]*peer
	inMu     sync.Mutex // guards inbound
	inbound  map[net.Conn]struct{}
	goMu     sync.Mutex // guards closed and wg.Add; a leaf lock
	closed   bool
	wg       sync.WaitGroup
	shutOnce sync.Once
	shutErr  error

	stats counters
}

type counters struct {
	framesSent, bytesSent, sendErrors          atomic.Uint64
	framesReceived, bytesReceived              atomic.Uint64
	connsOpened, connsAccepted, connsForwarded atomic.Uint64
	handshakeFailures, decryptFailures         atomic.Uint64
	oversizeFrames, idleClosed                 atomic.Uint64
	corruptFrames, inboundIdleClosed           atomic.Uint64
	connsRefused, connsRefusedSource           atomic.Uint64
	rekeys                                     atomic.Uint64
	packetsFiltered, connsFiltered             atomic.Uint64
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Wrap returns a Transport that forwards to inner and takes over inner's
// stream channel. inner must not be used directly afterwards.
func Wrap(inner memberlist.NodeAwareTransport, cfg Config) *Transport {
	cfg.setDefaults()
	t := &Transport{
		inner:      inner,
		cfg:        cfg,
		log:        cfg.Logger,
		plog:       ratelog.New(cfg.Logger, ratelog.DefaultInterval),
		digest:     labelDigest(cfg.Label),
		limits:     defaultLimits,
		limiter:    newInboundLimiter(cfg.MaxInbound, cfg.MaxInboundPerSource),
		streamCh:   make(chan net.Conn),
		shutdownCh: make(chan struct{}),
		demuxStop:  make(chan struct{}),
		peers:      make(map[string]*peer),
		inbound:    make(map[net.Conn]struct{}),
	}
	if cfg.PacketFilter != nil {
		t.filtered = make(chan *memberlist.Packet)
		t.spawn(t.filterPackets)
	}
	t.spawn(t.demux)
	t.spawn(t.janitor)
	return t
}

// spawn runs fn on a tracked goroutine unless the transport is shut down.
func (t *Transport) spawn(fn func()) bool {
	t.goMu.Lock()
	if t.closed {
		t.goMu.Unlock()
		return false
	}
	t.wg.Add(1)
	t.goMu.Unlock()
	go func() {
		defer t.wg.Done()
		fn()
	}()
	return true
}

func (t *Transport) isShutdown() bool {
	select {
	case <-t.shutdownCh:
		return true
	default:
		return false
	}
}

// FinalAdvertiseAddr forwards to the inner transport.
func (t *Transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo forwards to the inner transport.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.inner.WriteTo(b, addr)
}

// WriteToAddress forwards to the inner transport.
func (t *Transport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	return t.inner.WriteToAddress(b, addr)
}

// PacketCh delivers the inner transport's packets that pass
// Config.PacketFilter (all of them without one).
func (t *Transport) PacketCh() <-chan *memberlist.Packet {
	if t.filtered != nil {
		return t.filtered
	}
	return t.inner.PacketCh()
}

// DialTimeout forwards to the inner transport.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.inner.DialTimeout(addr, timeout)
}

// DialAddressTimeout forwards to the inner transport.
func (t *Transport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.inner.DialAddressTimeout(addr, timeout)
}

// StreamCh delivers the inbound connections that are not streams of this
// package, with any bytes read while routing them replayed. memberlist
// reads it; when the Transport is used without memberlist nothing arrives
// here except stray connections, which are closed at Shutdown.
func (t *Transport) StreamCh() <-chan net.Conn {
	return t.streamCh
}

// Shutdown closes every stream connection, stops all goroutines and then
// shuts down the inner transport. Safe to call more than once; later calls
// return the first result.
func (t *Transport) Shutdown() error {
	t.shutOnce.Do(func() {
		close(t.shutdownCh)

		// Outbound: fail queued frames and close connections.
		t.mu.Lock()
		peers := make([]*peer, 0, len(t.peers))
		for _, p := range t.peers {
			peers = append(peers, p)
		}
		t.mu.Unlock()
		for _, p := range peers {
			p.shutdown()
		}

		// Inbound: closing the connections ends their read loops.
		t.inMu.Lock()
		for c := range t.inbound {
			_ = c.Close()
		}
		t.inMu.Unlock()

		// The demux loop keeps draining inner's stream channel (closing what
		// arrives) until inner is down, so inner's accept loop cannot block.
		t.shutErr = t.inner.Shutdown()
		close(t.demuxStop)

		t.goMu.Lock()
		t.closed = true
		t.goMu.Unlock()
		t.wg.Wait()
	})
	return t.shutErr
}

// Stats returns a snapshot of the transport's counters.
func (t *Transport) Stats() Stats {
	s := &t.stats
	return Stats{
		FramesSent:         s.framesSent.Load(),
		BytesSent:          s.bytesSent.Load(),
		SendErrors:         s.sendErrors.Load(),
		FramesReceived:     s.framesReceived.Load(),
		BytesReceived:      s.bytesReceived.Load(),
		ConnsOpened:        s.connsOpened.Load(),
		ConnsAccepted:      s.connsAccepted.Load(),
		ConnsForwarded:     s.connsForwarded.Load(),
		HandshakeFailures:  s.handshakeFailures.Load(),
		DecryptFailures:    s.decryptFailures.Load(),
		CorruptFrames:      s.corruptFrames.Load(),
		OversizeFrames:     s.oversizeFrames.Load(),
		IdleClosed:         s.idleClosed.Load(),
		InboundIdleClosed:  s.inboundIdleClosed.Load(),
		ConnsRefused:       s.connsRefused.Load(),
		ConnsRefusedSource: s.connsRefusedSource.Load(),
		Rekeys:             s.rekeys.Load(),
		PacketsFiltered:    s.packetsFiltered.Load(),
		ConnsFiltered:      s.connsFiltered.Load(),
		InboundOpen:        t.limiter.open(),
		InboundPeak:        t.limiter.peak(),
	}
}

// janitor closes idle outbound connections and forgets idle peers.
func (t *Transport) janitor() {
	interval := t.cfg.IdleTimeout / 4
	if interval < 5*time.Millisecond {
		interval = 5 * time.Millisecond
	}
	if interval > 5*time.Second {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-t.shutdownCh:
			return
		case now := <-tick.C:
			t.mu.Lock()
			for addr, p := range t.peers {
				if p.reapIdle(now, t.cfg.IdleTimeout) {
					delete(t.peers, addr)
				}
			}
			t.mu.Unlock()
		}
	}
}
