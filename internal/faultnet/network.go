package faultnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Default buffer sizes; see SetPacketBuffer and SetStreamBuffer.
const (
	DefaultPacketBuffer = 1024
	DefaultStreamBuffer = 1 << 20
	// streamQueue is how many accepted streams a node may have waiting
	// for its StreamCh reader before further dials are refused.
	streamQueue = 128
)

var (
	// ErrNetworkClosed is returned by operations on a closed Network.
	ErrNetworkClosed = errors.New("faultnet: network closed")
	// ErrConnRefused is wrapped by dial errors for a peer that is unknown,
	// shut down, partitioned away or has too many unaccepted streams.
	ErrConnRefused = errors.New("faultnet: connection refused")
)

// Stats is a snapshot of the network's counters.
//
// Every packet copy is accounted for exactly once, so once no delayed packet
// is in flight: PacketsSent + PacketsDuplicated == PacketsDelivered +
// PacketsDropped().
type Stats struct {
	PacketsSent       uint64 // packets accepted by WriteTo/WriteToAddress
	PacketsDelivered  uint64 // copies placed in a receiver's PacketCh
	PacketsDuplicated uint64 // extra copies created by the duplicate rate

	DroppedLoss      uint64 // dropped by the loss rate
	DroppedPartition uint64 // dropped because the link was blocked
	DroppedFull      uint64 // dropped because the receiver's buffer was full
	DroppedClosed    uint64 // receiver shut down, or no node at that address

	StreamsOpened  uint64 // successful dials
	StreamsRefused uint64 // dials refused (unknown, shut down, blocked or busy peer, or Refuse rate) or timed out
	StreamsBroken  uint64 // open streams broken by a partition or a shutdown

	// Stream faults (see StreamFaults). Counted per Write call of at
	// least one byte on an open stream.
	StreamWrites           uint64 // Write calls considered for faults
	StreamWritesDropped    uint64 // discarded by the Drop rate
	StreamWritesDuplicated uint64 // delivered twice by the Duplicate rate
	StreamWritesCorrupted  uint64 // had a byte flipped by the Corrupt rate
	StreamWritesDelayed    uint64 // held in flight by a Delay or Jitter
	StreamWritesStalled    uint64 // made while their direction was stalled
	StreamsCut             uint64 // streams reset by the Cut rate, CutStreams or CutAllStreams
	StreamsRefusedByRate   uint64 // dials refused by the Refuse rate (also in StreamsRefused)
}

// PacketsDropped is the total of all packet drop counters.
func (s Stats) PacketsDropped() uint64 {
	return s.DroppedLoss + s.DroppedPartition + s.DroppedFull + s.DroppedClosed
}

type counters struct {
	sent, delivered, duplicated                   atomic.Uint64
	dropLoss, dropPartition, dropFull, dropClosed atomic.Uint64
	streamsOpened, streamsRefused, streamsBroken  atomic.Uint64

	streamWrites, streamDropped, streamDuplicated atomic.Uint64
	streamCorrupted, streamDelayed, streamStalled atomic.Uint64
	streamsCut, streamsRefusedRate                atomic.Uint64
}

// link is a directed pair of node addresses.
type link struct{ from, to string }

// faults are the packet fault settings of the whole network or of one link.
type faults struct {
	loss, duplicate float64
	delay, jitter   time.Duration
}

// linkFaults holds per-link overrides; a nil field means "use the global
// setting".
type linkFaults struct {
	loss, duplicate *float64
	delay, jitter   *time.Duration
}

// Network is an in-memory network connecting Transports. Faults (packet
// loss, delay and duplication, stream faults, partitions, stalls) can be
// changed at any time from any goroutine and apply to packets sent, stream
// writes made and streams dialed afterwards; partitions also break streams
// that are already open.
type Network struct {
	mu           sync.Mutex
	rng          *rand.Rand
	seed         int64
	nodes        map[string]*Transport
	nextAuto     int
	packetBuffer int
	streamBuffer int
	global       faults
	links        map[link]*linkFaults
	streamGlobal StreamFaults
	streamLinks  map[link]StreamFaults
	blocked      map[link]struct{}
	stalled      map[link]struct{}
	streams      map[*stream]struct{}
	timers       map[uint64]*time.Timer
	nextTimer    uint64
	closed       bool
	inflight     sync.WaitGroup

	stats counters
}

// NewNetwork returns an empty network seeded from the clock; Seed reports
// the seed so that a failing run can be reproduced with NewNetworkWithSeed.
func NewNetwork() *Network {
	return NewNetworkWithSeed(time.Now().UnixNano())
}

// NewNetworkWithSeed returns an empty network whose random decisions (loss,
// duplication, jitter, stream faults) come from a source seeded with seed.
func NewNetworkWithSeed(seed int64) *Network {
	return &Network{
		rng:          rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		seed:         seed,
		nodes:        make(map[string]*Transport),
		packetBuffer: DefaultPacketBuffer,
		streamBuffer: DefaultStreamBuffer,
		links:        make(map[link]*linkFaults),
		streamLinks:  make(map[link]StreamFaults),
		blocked:      make(map[link]struct{}),
		stalled:      make(map[link]struct{}),
		streams:      make(map[*stream]struct{}),
		timers:       make(map[uint64]*time.Timer),
	}
}

// Seed returns the seed of the network's random source.
func (n *Network) Seed() int64 { return n.seed }

// normalizeAddr returns the canonical "ip:port" form of addr, or addr itself
// when it is not of that form.
func normalizeAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil {
		return net.JoinHostPort(ip.String(), port)
	}
	return addr
}

func parseAddr(addr string) (net.IP, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("faultnet: bad address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, fmt.Errorf("faultnet: bad address %q: host is not an IP", addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("faultnet: bad address %q: %w", addr, err)
	}
	return ip, int(port), nil
}

// SetPacketBuffer sets the PacketCh capacity of transports created after
// the call (default DefaultPacketBuffer).
func (n *Network) SetPacketBuffer(size int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.packetBuffer = max(size, 0)
}

// SetStreamBuffer sets how many bytes each direction of streams dialed after
// the call buffers before writes block (default DefaultStreamBuffer).
func (n *Network) SetStreamBuffer(size int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.streamBuffer = max(size, 1)
}

// NewTransport adds a node at addr, which must be "ip:port". An address
// whose node was shut down may be reused, which models a restart.
func (n *Network) NewTransport(addr string) (*Transport, error) {
	ip, port, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	key := net.JoinHostPort(ip.String(), strconv.Itoa(port))

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrNetworkClosed
	}
	if old, ok := n.nodes[key]; ok && !old.closed.Load() {
		return nil, fmt.Errorf("faultnet: address %s already in use", key)
	}
	t := &Transport{
		net:      n,
		addr:     key,
		ip:       ip,
		port:     port,
		packetCh: make(chan *memberlist.Packet, n.packetBuffer),
		streamCh: make(chan net.Conn, streamQueue),
		done:     make(chan struct{}),
	}
	n.nodes[key] = t
	return t, nil
}

// NewTransportAuto adds a node at the next free address of the form
// 127.0.0.N:7946 (N counting up from 1, then into the next octets).
func (n *Network) NewTransportAuto() (*Transport, error) {
	for {
		n.mu.Lock()
		n.nextAuto++
		i := n.nextAuto
		n.mu.Unlock()
		if i >= 1<<24 {
			return nil, errors.New("faultnet: automatic addresses exhausted")
		}
		addr := fmt.Sprintf("127.%d.%d.%d:7946", i>>16&0xff, i>>8&0xff, i&0xff)
		t, err := n.NewTransport(addr)
		if err == nil || errors.Is(err, ErrNetworkClosed) {
			return t, err
		}
	}
}

// Addrs returns the addresses of all nodes that are not shut down.
func (n *Network) Addrs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for addr, t := range n.nodes {
		if !t.closed.Load() {
			out = append(out, addr)
		}
	}
	return out
}

func (n *Network) linkLocked(from, to string) *linkFaults {
	k := link{normalizeAddr(from), normalizeAddr(to)}
	lf := n.links[k]
	if lf == nil {
		lf = &linkFaults{}
		n.links[k] = lf
	}
	return lf
}

func clampRate(rate float64) float64 {
	switch {
	case rate != rate || rate < 0: // NaN or negative
		return 0
	case rate > 1:
		return 1
	}
	return rate
}

// SetLoss sets the fraction of packets dropped on every link without its
// own loss setting. It does not affect streams; see SetStreamFaults.
func (n *Network) SetLoss(rate float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.global.loss = clampRate(rate)
}

// SetLinkLoss sets the loss rate of the directed link from -> to,
// overriding the global rate.
func (n *Network) SetLinkLoss(from, to string, rate float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := clampRate(rate)
	n.linkLocked(from, to).loss = &r
}

// SetDelay delays every packet on links without their own delay setting by
// d plus a uniformly random extra in [0, jitter). Jitter reorders packets.
// Dials wait for the same delay. Senders never block on it.
func (n *Network) SetDelay(d, jitter time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.global.delay, n.global.jitter = max(d, 0), max(jitter, 0)
}

// SetLinkDelay sets the delay of the directed link from -> to, overriding
// the global delay.
func (n *Network) SetLinkDelay(from, to string, d, jitter time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d, jitter = max(d, 0), max(jitter, 0)
	lf := n.linkLocked(from, to)
	lf.delay, lf.jitter = &d, &jitter
}

// SetDuplicate sets the fraction of packets delivered twice on links
// without their own duplicate setting.
func (n *Network) SetDuplicate(rate float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.global.duplicate = clampRate(rate)
}

// SetLinkDuplicate sets the duplicate rate of the directed link from -> to,
// overriding the global rate.
func (n *Network) SetLinkDuplicate(from, to string, rate float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := clampRate(rate)
	n.linkLocked(from, to).duplicate = &r
}

// ClearLinkFaults removes the loss, delay, duplicate and stream fault
// overrides of the directed link from -> to (not blocks or stalls; see
// Heal).
func (n *Network) ClearLinkFaults(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := link{normalizeAddr(from), normalizeAddr(to)}
	delete(n.links, k)
	delete(n.streamLinks, k)
}

// ResetFaults removes all loss, delay, duplicate and stream fault
// settings, global and per link. Partitions and stalls are kept; see Heal.
func (n *Network) ResetFaults() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.global = faults{}
	clear(n.links)
	n.streamGlobal = StreamFaults{}
	clear(n.streamLinks)
}

// Partition blocks both directions between every address of groupA and
// every address of groupB: no packet crosses, new dials are refused and
// open streams between the groups are broken. Traffic inside a group is
// not affected. Partitions accumulate until Heal.
func (n *Network) Partition(groupA, groupB []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range groupA {
		for _, b := range groupB {
			a, b := normalizeAddr(a), normalizeAddr(b)
			if a == b {
				continue
			}
			n.blocked[link{a, b}] = struct{}{}
			n.blocked[link{b, a}] = struct{}{}
		}
	}
	n.breakBlockedStreamsLocked()
}

// BlockLink blocks the single direction from -> to (an asymmetric fault):
// packets from -> to are dropped, and since a stream needs both
// directions, dials either way are refused and open streams between the
// two are broken. Heal removes it.
func (n *Network) BlockLink(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked[link{normalizeAddr(from), normalizeAddr(to)}] = struct{}{}
	n.breakBlockedStreamsLocked()
}

// Isolate partitions addr from every other current node.
func (n *Network) Isolate(addr string) {
	addr = normalizeAddr(addr)
	var others []string
	for _, a := range n.Addrs() {
		if a != addr {
			others = append(others, a)
		}
	}
	n.Partition([]string{addr}, others)
}

// Heal removes all partitions and link blocks and resumes all stalled
// streams (see StallStreams). Streams broken by a partition stay broken;
// new dials succeed.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.blocked)
	n.resumeAllLocked()
}

func (n *Network) isBlockedLocked(from, to string) bool {
	_, ok := n.blocked[link{from, to}]
	return ok
}

func (n *Network) streamBlockedLocked(a, b string) bool {
	return n.isBlockedLocked(a, b) || n.isBlockedLocked(b, a)
}

func (n *Network) breakBlockedStreamsLocked() {
	for s := range n.streams {
		if n.streamBlockedLocked(s.from, s.to) {
			n.breakStreamLocked(s)
		}
	}
}

func (n *Network) breakStreamLocked(s *stream) {
	delete(n.streams, s)
	s.breakStream()
	n.stats.streamsBroken.Add(1)
}

func (n *Network) forgetStream(s *stream) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.streams, s)
}

// effectiveLocked returns the packet faults that apply to from -> to.
func (n *Network) effectiveLocked(from, to string) faults {
	f := n.global
	if lf := n.links[link{from, to}]; lf != nil {
		if lf.loss != nil {
			f.loss = *lf.loss
		}
		if lf.duplicate != nil {
			f.duplicate = *lf.duplicate
		}
		if lf.delay != nil {
			f.delay = *lf.delay
		}
		if lf.jitter != nil {
			f.jitter = *lf.jitter
		}
	}
	return f
}

func (n *Network) delayLocked(f faults) time.Duration {
	d := f.delay
	if f.jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(f.jitter)))
	}
	return d
}

// sendPacket routes one packet from src to the node at dst.
func (n *Network) sendPacket(src *Transport, b []byte, dst string) (time.Time, error) {
	dst = normalizeAddr(dst)
	now := time.Now()

	n.mu.Lock()
	defer n.mu.Unlock()
	if src.closed.Load() {
		return time.Time{}, &net.OpError{Op: "write", Net: "faultnet", Source: src.udpAddr(), Err: net.ErrClosed}
	}
	n.stats.sent.Add(1)

	f := n.effectiveLocked(src.addr, dst)
	if f.loss > 0 && n.rng.Float64() < f.loss {
		n.stats.dropLoss.Add(1)
		return now, nil
	}
	copies := 1
	if f.duplicate > 0 && n.rng.Float64() < f.duplicate {
		n.stats.duplicated.Add(1)
		copies = 2
	}
	for range copies {
		p := &memberlist.Packet{
			Buf:  append([]byte(nil), b...),
			From: src.udpAddr(),
		}
		if d := n.delayLocked(f); d > 0 && !n.closed {
			n.scheduleLocked(d, func() {
				n.mu.Lock()
				defer n.mu.Unlock()
				n.deliverLocked(src.addr, dst, p)
			})
			continue
		}
		n.deliverLocked(src.addr, dst, p)
	}
	return now, nil
}

// deliverLocked hands a packet to its receiver, or counts why it could not.
// Partitions are checked at delivery so that a packet delayed across a
// Partition call does not cross it.
func (n *Network) deliverLocked(from, to string, p *memberlist.Packet) {
	if n.isBlockedLocked(from, to) {
		n.stats.dropPartition.Add(1)
		return
	}
	dst := n.nodes[to]
	if dst == nil || dst.closed.Load() {
		n.stats.dropClosed.Add(1)
		return
	}
	p.Timestamp = time.Now()
	select {
	case dst.packetCh <- p:
		n.stats.delivered.Add(1)
	default:
		n.stats.dropFull.Add(1)
	}
}

// scheduleLocked runs fn after d unless the network is closed first.
func (n *Network) scheduleLocked(d time.Duration, fn func()) {
	id := n.nextTimer
	n.nextTimer++
	n.inflight.Add(1)
	n.timers[id] = time.AfterFunc(d, func() {
		defer n.inflight.Done()
		n.mu.Lock()
		_, live := n.timers[id]
		delete(n.timers, id)
		n.mu.Unlock()
		if live {
			fn()
		}
	})
}

// dial opens a stream from src to the node at dst.
func (n *Network) dial(src *Transport, dst string, timeout time.Duration) (net.Conn, error) {
	dst = normalizeAddr(dst)
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "faultnet", Source: src.tcpAddr(), Addr: addrOf(dst), Err: err}
	}

	n.mu.Lock()
	if src.closed.Load() {
		n.mu.Unlock()
		return nil, opErr(net.ErrClosed)
	}
	d := n.delayLocked(n.effectiveLocked(src.addr, dst))
	n.mu.Unlock()

	if d > 0 {
		timer := time.NewTimer(d)
		var expired <-chan time.Time
		if timeout > 0 && timeout <= d {
			to := time.NewTimer(timeout)
			defer to.Stop()
			expired = to.C
		}
		select {
		case <-timer.C:
		case <-expired:
			timer.Stop()
			n.stats.streamsRefused.Add(1)
			return nil, opErr(os.ErrDeadlineExceeded)
		case <-src.done:
			timer.Stop()
			return nil, opErr(net.ErrClosed)
		}
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if src.closed.Load() {
		return nil, opErr(net.ErrClosed)
	}
	refuse := func() (net.Conn, error) {
		n.stats.streamsRefused.Add(1)
		return nil, opErr(ErrConnRefused)
	}
	peer := n.nodes[dst]
	if peer == nil || peer.closed.Load() || n.streamBlockedLocked(src.addr, dst) {
		return refuse()
	}
	if n.hitLocked(n.streamFaultsLocked(src.addr, dst).Refuse) {
		n.stats.streamsRefusedRate.Add(1)
		return refuse()
	}
	s := newStream(n, src, peer, n.streamBuffer)
	select {
	case peer.streamCh <- s.server:
	default:
		return refuse()
	}
	n.streams[s] = struct{}{}
	n.stats.streamsOpened.Add(1)
	return s.client, nil
}

// shutdownNode marks t closed, breaks its streams and closes the streams
// it has not accepted yet.
func (n *Network) shutdownNode(t *Transport) {
	n.mu.Lock()
	if !t.closed.CompareAndSwap(false, true) {
		n.mu.Unlock()
		return
	}
	close(t.done)
	for s := range n.streams {
		if s.from == t.addr || s.to == t.addr {
			n.breakStreamLocked(s)
		}
	}
	n.mu.Unlock()

	// Conn.Close takes n.mu, so the unaccepted streams are closed unlocked.
	for {
		select {
		case c := <-t.streamCh:
			_ = c.Close()
		default:
			return
		}
	}
}

// Stats returns a snapshot of the counters.
func (n *Network) Stats() Stats {
	c := &n.stats
	return Stats{
		PacketsSent:       c.sent.Load(),
		PacketsDelivered:  c.delivered.Load(),
		PacketsDuplicated: c.duplicated.Load(),
		DroppedLoss:       c.dropLoss.Load(),
		DroppedPartition:  c.dropPartition.Load(),
		DroppedFull:       c.dropFull.Load(),
		DroppedClosed:     c.dropClosed.Load(),
		StreamsOpened:     c.streamsOpened.Load(),
		StreamsRefused:    c.streamsRefused.Load(),
		StreamsBroken:     c.streamsBroken.Load(),

		StreamWrites:           c.streamWrites.Load(),
		StreamWritesDropped:    c.streamDropped.Load(),
		StreamWritesDuplicated: c.streamDuplicated.Load(),
		StreamWritesCorrupted:  c.streamCorrupted.Load(),
		StreamWritesDelayed:    c.streamDelayed.Load(),
		StreamWritesStalled:    c.streamStalled.Load(),
		StreamsCut:             c.streamsCut.Load(),
		StreamsRefusedByRate:   c.streamsRefusedRate.Load(),
	}
}

// Close shuts down every node (which breaks every stream, releasing writers
// blocked on a full or stalled stream and dropping bytes still delayed),
// discards packets still delayed in flight and waits until no delivery is
// running. Use it (e.g. in t.Cleanup) so no
// timer outlives a test. Close is idempotent.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.inflight.Wait()
		return nil
	}
	n.closed = true
	nodes := make([]*Transport, 0, len(n.nodes))
	for _, t := range n.nodes {
		nodes = append(nodes, t)
	}
	for id, tm := range n.timers {
		if tm.Stop() {
			n.inflight.Done()
		}
		delete(n.timers, id)
	}
	n.mu.Unlock()

	for _, t := range nodes {
		n.shutdownNode(t)
	}
	n.inflight.Wait()
	return nil
}
