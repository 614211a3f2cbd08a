package streams

import (
	"net"
	"net/netip"
	"sync"
)

// inboundLimiter caps the inbound connections held at once, in total and
// per source address. It counts every connection the listener hands over,
// stream or memberlist, from acceptance until it is closed: an idle
// connection costs a goroutine and buffers whichever protocol it claims.
//
// Loopback sources only count toward the total: every node on one machine
// dials from 127.0.0.1 (or ::1), and a local process can exhaust the host
// in many other ways, so a per-source cap there would only break
// single-machine clusters.
type inboundLimiter struct {
	maxTotal, maxPerSource int

	mu       sync.Mutex
	total    int
	perSrc   map[netip.Addr]int
	peakSeen int // the most held at once
}

func newInboundLimiter(maxTotal, maxPerSource int) *inboundLimiter {
	return &inboundLimiter{maxTotal: maxTotal, maxPerSource: maxPerSource, perSrc: make(map[netip.Addr]int)}
}

// refusal says why a connection was refused.
type refusal int

const (
	admitted refusal = iota
	refusedTotal
	refusedSource
)

// sourceOf is the address a connection counts against; ok is false for
// loopback and for addresses that are not IP.
func sourceOf(addr net.Addr) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}, false
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() {
		return netip.Addr{}, false
	}
	return ip, true
}

// acquire admits a connection from addr unless a cap is reached.
func (l *inboundLimiter) acquire(addr net.Addr) refusal {
	src, perSource := sourceOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.maxTotal {
		return refusedTotal
	}
	if perSource && l.perSrc[src] >= l.maxPerSource {
		return refusedSource
	}
	l.total++
	l.peakSeen = max(l.peakSeen, l.total)
	if perSource {
		l.perSrc[src]++
	}
	return admitted
}

// release returns the slot of an admitted connection from addr.
func (l *inboundLimiter) release(addr net.Addr) {
	src, perSource := sourceOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if perSource {
		if n := l.perSrc[src] - 1; n > 0 {
			l.perSrc[src] = n
		} else {
			delete(l.perSrc, src)
		}
	}
}

// open is the number of admitted connections not yet released.
func (l *inboundLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// admittedConn releases its limiter slot when closed, whoever closes it
// (memberlist closes the connections forwarded to it).
type admittedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *admittedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// peak is the most connections held at once so far.
func (l *inboundLimiter) peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peakSeen
}
