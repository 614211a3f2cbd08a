package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/streams"
)

// Lifecycle states of a Cluster.
//
// stateStarting covers memberlist.Create: memberlist's packet and stream
// handlers already run inside it, so delegates can fire before ml and mlr
// are set. Only stateRunning lets them in (running()).
const (
	stateNew int32 = iota
	stateStarting
	stateRunning
	stateStopped
)

// Cluster is one gossip node.
type Cluster struct {
	cfg      *settings
	id       string
	log      *slog.Logger
	tokenKey []byte // HMAC key derived from the bearer token, nil without one
	proof    []byte // our join proof, nil without a token

	lifeMu  sync.Mutex // serialises Start, Leave and Stop
	state   atomic.Int32
	left    atomic.Bool // Leave has run
	leaving atomic.Bool // header announces a graceful leave
	// ml and mlr are written once, in Start, before the state becomes
	// stateRunning, and never cleared: the atomic state store publishes
	// them. Read them only after running() returned true (delegates and
	// receive paths do) or on goroutines Start launched after setting them.
	// After Stop they point at a shut-down memberlist, whose calls fail
	// with an error, except Leave, which lifeMu and running() keep away.
	ml  *memberlist.Memberlist
	mlr *mlReader
	// forgetAfter is memberlist's GossipToTheDeadTime: how long it keeps a
	// dead node before forgetting it. watchTimer is the peer loop's
	// fallback tick (peerwatch.go), pushed back by every completed probe.
	forgetAfter, watchEvery time.Duration
	watchTimer              *time.Timer
	// The effective gossip and push/pull periods (profile plus overrides),
	// taken from the memberlist config at Start.
	gossipEvery, pushPullEvery time.Duration
	tr                         *streams.Transport
	instance                   uint64 // random per Start (crypto/rand); lets peers tell restarts apart
	advertise                  string // "host:port" with the real port
	stopCh                     chan struct{}
	wg                         sync.WaitGroup // the engine's own goroutines
	bcast                      *memberlist.TransmitLimitedQueue
	kickHdr                    chan struct{} // asks the header updater to re-announce us

	queue         *eventQueue
	pump          *Pump // runs queue's handlers with those of its sibling nodes
	dispatching   atomic.Bool
	handlersMu    sync.RWMutex
	handlers      map[int]func(Message)
	stateHandlers []func(string, string)
	x             extras // request/reply, handler ids, metadata events, votes

	peers    peerTable
	meta     metaStore
	senders  senderTable
	receiver receiverTable

	stats counters

	keyOps keyOps // key rotation requests in flight and recently seen (keys.go)

	form formation // push/pull repair after joins (formation.go)
	lost lostPeers // peers last seen dead, rejoined after a partition (rejoin.go)

	features featureState // extensions and channels of feature packages (features.go)
}

// New validates cfg and builds a node; it does not open sockets until Start.
func New(cfg Config) (*Cluster, error) {
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:      s,
		id:       s.NodeID,
		log:      s.Logger.With("node", s.NodeID),
		tokenKey: tokenKey(s.BearerToken),
		stopCh:   make(chan struct{}),
		kickHdr:  make(chan struct{}, 1),
		handlers: make(map[int]func(Message)),
		pump:     s.Pump,
	}
	if c.pump == nil {
		c.pump = NewPump()
	}
	c.queue = newEventQueue(s.EventQueueSize, c.pump.wake)
	c.pump.add(c)
	if c.tokenKey != nil {
		c.proof = joinProof(c.tokenKey, c.id)
	}
	c.meta.init()
	c.peers.init(s.NodeID)
	c.senders.init()
	c.receiver.init()
	return c, nil
}

// errNotRunning is returned by operations that need a running node.
func errNotRunning() error {
	return fmt.Errorf("%w: start the cluster first, and do not use it after stop", ErrNotRunning)
}

// running reports whether the node is started and not stopped.
func (c *Cluster) running() bool { return c.state.Load() == stateRunning }

// Start opens the sockets and begins failure detection and gossip.
func (c *Cluster) Start() error {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	switch c.state.Load() {
	case stateRunning:
		return fmt.Errorf("%w: already started", ErrStartFailed)
	case stateStopped:
		return fmt.Errorf("%w: a stopped cluster cannot be restarted; create a new one", ErrNotRunning)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	c.instance = binary.BigEndian.Uint64(b[:]) | 1
	mc, err := c.memberlistConfig()
	if err != nil {
		return err
	}
	c.gossipEvery, c.pushPullEvery = mc.GossipInterval, mc.PushPullInterval
	c.forgetAfter = mc.GossipToTheDeadTime
	c.watchEvery = max(2*mc.ProbeInterval, 10*time.Millisecond)
	// The event callbacks read node states through the layout, from inside
	// Create on: check it first.
	layout, err := checkMLLayout()
	if err != nil {
		return err
	}
	c.peers.layout = layout
	c.bcast = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return max(1, int(c.peers.alive.Load())) },
		RetransmitMult: mc.RetransmitMult,
	}
	tr, err := c.buildTransport(mc)
	if err != nil {
		return fmt.Errorf("%w: cannot listen on %s: %v", ErrStartFailed, c.cfg.BindAddr, err)
	}
	mc.Transport, c.tr = tr, tr
	// Known before Create, so nothing writes it while delegates may run.
	c.advertise, err = c.finalAdvertise(tr, mc)
	if err != nil {
		_ = tr.Shutdown()
		return err
	}
	// Delegates fire inside Create (NodeMeta, and NotifyMsg for whatever a
	// stranger sends): in stateStarting they drop traffic until ml and mlr
	// are set and published by the store of stateRunning below.
	c.state.Store(stateStarting)
	ml, err := memberlist.Create(mc)
	if err != nil {
		c.state.Store(stateNew)
		_ = tr.Shutdown()
		return fmt.Errorf("%w: cannot listen on %s: %v", ErrStartFailed, c.cfg.BindAddr, err)
	}
	c.ml, c.mlr = ml, newMLReader(layout, ml)
	c.watchTimer = time.NewTimer(c.watchEvery)
	c.state.Store(stateRunning)
	c.wg.Add(3)
	go c.peerLoop()
	go c.headerLoop()
	// rejoin.go: heals partitions that memberlist has already forgotten.
	go c.rejoinLoop()
	c.publishMeta() // metadata set before Start
	c.log.Info("advertising", "bind", c.cfg.BindAddr, "addr", c.advertise)
	return nil
}

// Join contacts the peers ("host:port") and returns how many answered.
// It fails with ErrJoinFailed naming the peers when none could be joined;
// the error text carries memberlist's reason for each peer, including the
// engine's own refusals (incompatible app version, bad token).
//
// memberlist's Join takes no context: when ctx ends first, Join returns
// ctx's error at once and the contact attempts finish in the background,
// bounded by memberlist's TCP timeout (10 s), or cut short by Stop.
func (c *Cluster) Join(ctx context.Context, peers []string) (int, error) {
	if !c.running() {
		return 0, errNotRunning()
	}
	if len(peers) == 0 {
		return 0, fmt.Errorf("%w: no peers given", ErrInvalidArgument)
	}
	type joined struct {
		n   int
		err error
	}
	done := make(chan joined, 1)
	go func() {
		n, err := c.ml.Join(peers)
		done <- joined{n, err}
	}()
	var r joined
	select {
	case r = <-done:
	case <-ctx.Done():
		return 0, fmt.Errorf("join %s: %w", strings.Join(peers, ", "), ctx.Err())
	}
	n, err := r.n, r.err
	if n > 0 {
		c.drainChanges()  // state handlers hear of the joined nodes first
		c.requestRepair() // formation.go: a lost alive broadcast must not stall formation
		c.fetchWanted()   // metadata_digest.go: fetch what the joined nodes' digests named
		return n, nil
	}
	reason := "no peer answered"
	if err != nil {
		reason = strings.Join(strings.Fields(err.Error()), " ")
	}
	return 0, fmt.Errorf("%w: could not join any of %s: %s", ErrJoinFailed, strings.Join(peers, ", "), reason)
}

// Leave announces a graceful departure and waits for it to propagate: the
// header is re-announced with a "leaving" flag (so peers report "leaving"
// rather than "dead"), memberlist's leave is broadcast, and the node keeps
// serving gossip for a few rounds so the news spreads before sockets close.
// Messages can still be received until Stop; sending fails after Leave.
func (c *Cluster) Leave() error {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if !c.running() {
		return errNotRunning()
	}
	return c.leaveLocked()
}

// leaveLocked implements Leave; lifeMu is held.
func (c *Cluster) leaveLocked() error {
	if c.left.Load() {
		return nil
	}
	deadline := time.Now().Add(c.cfg.LeaveTimeout)
	c.leaving.Store(true)
	if c.peers.alive.Load() > 1 {
		// memberlist waits without a bound when given no time left (a
		// loaded host can spend LeaveTimeout before getting here).
		if err := c.ml.UpdateNode(max(time.Until(deadline), time.Millisecond)); err != nil {
			c.log.Debug("leave flag not confirmed", "err", err)
		}
	}
	err := c.ml.Leave(max(time.Until(deadline), time.Millisecond))
	c.left.Store(true)
	if c.peers.alive.Load() > 1 {
		// memberlist only waits for the first transmission; stay reachable a
		// few gossip rounds so the leave spreads and probes get answered.
		linger := min(10*c.gossipEvery, time.Until(deadline))
		select {
		case <-time.After(max(linger, 0)):
		case <-c.stopCh:
		}
	}
	if err != nil {
		return fmt.Errorf("%w: leave was not confirmed: %v", ErrTimeout, err)
	}
	return nil
}

// Stop leaves (if still a member), closes sockets and stops every goroutine.
// It is idempotent and cannot fail: a leave that is not confirmed in time,
// or a socket that fails to close, is logged, and the node is stopped
// all the same, so a caller has nothing left to retry or clean up.
func (c *Cluster) Stop() {
	c.stop(true)
}

// stop shuts the node down; graceful=false skips the leave, which peers then
// see as a failure (tests use it to simulate a crash).
func (c *Cluster) stop(graceful bool) {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	switch c.state.Load() {
	case stateStopped:
		return
	case stateNew:
		c.state.Store(stateStopped)
		close(c.stopCh)
		c.queue.close()
		return
	}
	var leaveErr error
	if graceful {
		leaveErr = c.leaveLocked()
	}
	// Under the sender lock, so no sender goroutine is started once Stop
	// waits for them.
	c.senders.mu.Lock()
	c.state.Store(stateStopped)
	c.senders.mu.Unlock()
	close(c.stopCh)
	c.queue.close()
	c.peers.close()
	c.senders.wakeAll()
	err := c.ml.Shutdown()
	c.wg.Wait()
	c.senders.failAll(c) // what is still unacknowledged will never be
	c.log.Debug("cluster stopped")
	if err != nil {
		c.log.Warn("closing the node's sockets failed", "err", err)
	}
	if leaveErr != nil && !errors.Is(leaveErr, ErrNotRunning) {
		c.log.Warn("leave before stop did not complete", "err", leaveErr)
	}
}

// NodeID returns this node's id.
func (c *Cluster) NodeID() string { return c.id }
