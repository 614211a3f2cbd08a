package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/engine"
)

// profile is one memberlist timing set, applied identically to the engine
// (Config.Profile plus overrides) and to raw memberlist (DefaultLANConfig
// plus the same overrides), so each comparison runs the same failure
// detector and gossip timing on both sides.
type profile struct {
	name           string
	probeInterval  time.Duration
	probeTimeout   time.Duration
	gossipInterval time.Duration
	suspicionMult  int
}

// lan is memberlist's LAN profile unchanged, the engine's default.
var lan = profile{name: "lan"}

// fast is the documented low-latency failure-detection profile: LAN with
// a 300 ms probe period, 150 ms probe timeout, 50 ms gossip period and
// suspicion multiplier 3.
var fast = profile{name: "fast", probeInterval: 300 * time.Millisecond, probeTimeout: 150 * time.Millisecond,
	gossipInterval: 50 * time.Millisecond, suspicionMult: 3}

func (p profile) engineConfig(cfg *engine.Config) {
	cfg.Profile = engine.ProfileLAN
	cfg.ProbeInterval = p.probeInterval
	cfg.ProbeTimeout = p.probeTimeout
	cfg.GossipInterval = p.gossipInterval
	cfg.SuspicionMult = p.suspicionMult
}

func (p profile) memberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	if p.probeInterval > 0 {
		mc.ProbeInterval = p.probeInterval
	}
	if p.probeTimeout > 0 {
		mc.ProbeTimeout = p.probeTimeout
	}
	if p.gossipInterval > 0 {
		mc.GossipInterval = p.gossipInterval
	}
	if p.suspicionMult > 0 {
		mc.SuspicionMult = p.suspicionMult
	}
	// Like the engine (which compresses per message itself).
	mc.EnableCompression = false
	mc.Logger = quietLog
	return mc
}

// node is one cluster member of either side.
type node interface {
	ID() string
	Addr() string
	Join(addr string) error
	// Alive is how many members (self included) this node sees up.
	Alive() int
	// SeesDead reports whether this node considers id dead.
	SeesDead(id string) bool
	Kill()
	Stop()
}

// ---- the engine ----

type ourNode struct {
	c    *engine.Cluster
	tr   *ctlTransport
	dead sync.Map // node id -> struct{} while reported dead
	// deaths counts "dead" state changes reported to the handler.
	deaths atomic.Int64
}

func startOurs(id string, p profile, tweak func(*engine.Config)) (*ourNode, error) {
	tr, err := newCtlTransport()
	if err != nil {
		return nil, err
	}
	cfg := engine.Config{BindAddr: tr.Addr(), NodeID: id, Transport: tr, LeaveTimeout: 500 * time.Millisecond}
	p.engineConfig(&cfg)
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := engine.New(cfg)
	if err == nil {
		err = c.Start()
	}
	if err != nil {
		_ = tr.Shutdown()
		return nil, err
	}
	n := &ourNode{c: c, tr: tr}
	// State changes are what an application watches; polling Nodes()
	// instead would build full snapshots and load the CPU under test.
	c.OnStateChange(func(id, state string) {
		if state == string(engine.StateDead) {
			n.dead.Store(id, struct{}{})
			n.deaths.Add(1)
		} else {
			n.dead.Delete(id)
		}
	})
	return n, nil
}

func (n *ourNode) ID() string   { return n.c.NodeID() }
func (n *ourNode) Addr() string { return n.c.LocalNode().Addr }
func (n *ourNode) Join(addr string) error {
	_, err := n.c.Join(context.Background(), []string{addr})
	return err
}

// Alive also runs the queued state handlers, so events never pile up.
func (n *ourNode) Alive() int {
	n.c.Dispatch()
	return n.c.NumAlive()
}
func (n *ourNode) SeesDead(id string) bool {
	n.c.Dispatch()
	_, ok := n.dead.Load(id)
	return ok
}
func (n *ourNode) Kill() { n.tr.Kill() }
func (n *ourNode) Stop() { n.c.Stop() }

// ---- raw memberlist ----

// baseDelegate is the minimal delegate a memberlist user writes.
type baseDelegate struct {
	meta  atomic.Pointer[[]byte]
	onMsg atomic.Pointer[func([]byte)]
}

func (d *baseDelegate) NodeMeta(limit int) []byte {
	if m := d.meta.Load(); m != nil && len(*m) <= limit {
		return *m
	}
	return nil
}
func (d *baseDelegate) NotifyMsg(b []byte) {
	if f := d.onMsg.Load(); f != nil {
		(*f)(b)
	}
}
func (d *baseDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *baseDelegate) LocalState(join bool) []byte                { return nil }
func (d *baseDelegate) MergeRemoteState(buf []byte, join bool)     {}

// baseEvents records when a node's metadata reaches a wanted value.
type baseEvents struct {
	mu    sync.Mutex
	want  []byte
	owner string
	seen  chan struct{} // closed when the wanted value arrives
	dead  atomic.Int64  // NotifyLeave calls (dead or left)
}

func (e *baseEvents) NotifyJoin(*memberlist.Node) {}
func (e *baseEvents) NotifyLeave(*memberlist.Node) {
	e.dead.Add(1)
}
func (e *baseEvents) NotifyUpdate(n *memberlist.Node) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen != nil && n.Name == e.owner && bytes.Equal(n.Meta, e.want) {
		close(e.seen)
		e.seen = nil
	}
}

// expect arms the event delegate for owner's metadata becoming want.
func (e *baseEvents) expect(owner string, want []byte) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.owner, e.want, e.seen = owner, want, make(chan struct{})
	return e.seen
}

type baseNode struct {
	ml *memberlist.Memberlist
	tr *ctlTransport
	d  *baseDelegate
	ev *baseEvents
}

func startBase(id string, p profile) (*baseNode, error) {
	tr, err := newCtlTransport()
	if err != nil {
		return nil, err
	}
	mc := p.memberlistConfig()
	mc.Name = id
	mc.Transport = tr
	mc.BindAddr = "127.0.0.1"
	mc.BindPort = tr.GetAutoBindPort()
	mc.AdvertisePort = mc.BindPort
	n := &baseNode{tr: tr, d: &baseDelegate{}, ev: &baseEvents{}}
	mc.Delegate = n.d
	mc.Events = n.ev
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = tr.Shutdown()
		return nil, err
	}
	n.ml = ml
	return n, nil
}

func (n *baseNode) ID() string   { return n.ml.LocalNode().Name }
func (n *baseNode) Addr() string { return n.tr.Addr() }
func (n *baseNode) Join(addr string) error {
	_, err := n.ml.Join([]string{addr})
	return err
}
func (n *baseNode) Alive() int { return n.ml.NumMembers() }

// SeesDead: memberlist's member list leaves out dead and left nodes.
func (n *baseNode) SeesDead(id string) bool {
	for _, m := range n.ml.Members() {
		if m.Name == id {
			return false
		}
	}
	return true
}
func (n *baseNode) Kill() { n.tr.Kill() }
func (n *baseNode) Stop() {
	_ = n.ml.Leave(200 * time.Millisecond)
	_ = n.ml.Shutdown()
}

// side builds nodes of one implementation.
type side struct {
	name  string
	start func(id string, p profile) (node, error)
}

var (
	oursSide = side{name: "ours", start: func(id string, p profile) (node, error) {
		n, err := startOurs(id, p, nil)
		if err != nil {
			return nil, err
		}
		return n, nil
	}}
	baseSide = side{name: "memberlist", start: func(id string, p profile) (node, error) {
		n, err := startBase(id, p)
		if err != nil {
			return nil, err
		}
		return n, nil
	}}
)

// startNodes starts n unjoined nodes of s in parallel.
func startNodes(s side, n int, p profile) ([]node, error) {
	nodes := make([]node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			nodes[i], errs[i] = s.start(fmt.Sprintf("%s-%d", s.name, i), p)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			stopNodes(nodes)
			return nil, err
		}
	}
	return nodes, nil
}

// thoroughJoins (set by -quick) makes joinAll join each node to every
// earlier node, one at a time: every node then learns every other one from
// a push/pull rather than from gossip, so a lost broadcast cannot stall a
// smoke test for a push/pull period.
var thoroughJoins bool

// joinAll joins every node to the first, in parallel.
func joinAll(nodes []node) error {
	if thoroughJoins {
		for i := 1; i < len(nodes); i++ {
			for j := 0; j < i; j++ {
				if err := nodes[i].Join(nodes[j].Addr()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i := 1; i < len(nodes); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = nodes[i].Join(nodes[0].Addr())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// stopNodes stops every node in parallel (a graceful leave lingers a few
// gossip rounds, which would add up one after the other).
func stopNodes(nodes []node) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Stop()
		}()
	}
	wg.Wait()
}

// waitUntil polls cond every step until it holds; it fails after timeout.
func waitUntil(timeout, step time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(step)
	}
	return nil
}

// allAlive reports whether every node sees want members alive.
func allAlive(nodes []node, want int) bool {
	for _, n := range nodes {
		if n.Alive() != want {
			return false
		}
	}
	return true
}

// cluster starts, joins and waits for n nodes of s.
func cluster(s side, n int, p profile) ([]node, error) {
	nodes, err := startNodes(s, n, p)
	if err != nil {
		return nil, err
	}
	if err := joinAll(nodes); err != nil {
		stopNodes(nodes)
		return nil, err
	}
	if err := waitUntil(120*time.Second, 10*time.Millisecond, fmt.Sprintf("%d %s nodes to converge", n, s.name), func() bool { return allAlive(nodes, n) }); err != nil {
		stopNodes(nodes)
		return nil, err
	}
	return nodes, nil
}
