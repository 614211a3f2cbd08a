package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	testKey1  = "0123456789abcdef"                 // 16 bytes
	testKey2  = "fedcba9876543210fedcba98"         // 24 bytes
	testKey3  = "0123456789abcdef0123456789abcdef" // 32 bytes
	testToken = "s3cret-token"
)

// secure sets the cluster's key, token and app version on cfg.
func secure(cfg *Config) {
	cfg.EncryptionKey = testKey1
	cfg.BearerToken = testToken
	cfg.AppVersion = "1.4.0"
}

func TestKeyLengthRefused(t *testing.T) {
	for _, n := range []int{1, 15, 17, 31, 33, 64} {
		_, err := New(Config{BindAddr: "127.0.0.1:0", EncryptionKey: strings.Repeat("k", n)})
		want := fmt.Sprintf("encryption_key must be 16, 24 or 32 bytes, got %d", n)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("key of %d bytes: err = %v", n, err)
		}
	}
	c := startNode(t, func() Config { cfg := testConfig("k"); secure(&cfg); return cfg }())
	for _, call := range []func(string) (KeyResult, error){c.InstallKey, c.UseKey, c.RemoveKey} {
		_, err := call("short")
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "key must be 16, 24 or 32 bytes, got 5") {
			t.Errorf("err = %v", err)
		}
	}
}

func TestRotationNeedsEncryption(t *testing.T) {
	c := startNode(t, testConfig("plain"))
	for name, call := range map[string]func() error{
		"install": func() error { _, err := c.InstallKey(testKey1); return err },
		"use":     func() error { _, err := c.UseKey(testKey1); return err },
		"remove":  func() error { _, err := c.RemoveKey(testKey1); return err },
		"list":    func() error { _, err := c.ListKeys(); return err },
	} {
		if err := call(); !errors.Is(err, ErrNoEncryption) || !strings.Contains(err.Error(), "encryption_key") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestKeyStepRefusals(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { secure(cfg) })
	if _, err := nodes[0].UseKey(testKey2); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "install_key first") {
		t.Fatalf("use of an uninstalled key: %v", err)
	}
	if _, err := nodes[0].RemoveKey(testKey1); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "still the primary key of 2 node(s) (n0, n1)") {
		t.Fatalf("removing the primary key: %v", err)
	}
	// Removing a key nobody has is not an error anywhere.
	res, err := nodes[0].RemoveKey(testKey3)
	if err != nil || len(res.OK) != 2 || len(res.Failed) != 0 || res.Key != KeyFingerprint([]byte(testKey3)) {
		t.Fatalf("remove of a missing key: %+v, %v", res, err)
	}
}

func TestRemoveKeyKeepsOtherKeys(t *testing.T) {
	kr, err := memberlist.NewKeyring(nil, []byte(testKey1))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{testKey2, testKey3, "abcdefghijklmnop"} {
		_ = kr.AddKey([]byte(k))
	}
	if err := removeKey(kr, []byte(testKey2), "x"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range kr.GetKeys() {
		got = append(got, string(k))
	}
	if want := []string{testKey1, testKey3, "abcdefghijklmnop"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	if err := removeKey(kr, []byte(testKey1), "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("removing the primary: %v", err)
	}
}

// intruder describes a node that must be kept out of a secure() cluster.
type intruder struct {
	name    string
	tweak   func(*Config)
	joinErr string             // expected in the joiner's error
	counter func(Stats) uint64 // the member's counter that explains the refusal
}

var intruders = []intruder{
	{"no key", func(c *Config) { c.EncryptionKey = "" }, "", func(s Stats) uint64 { return s.DecryptFailures }},
	{"wrong key", func(c *Config) { c.EncryptionKey = testKey3 }, "", func(s Stats) uint64 { return s.DecryptFailures }},
	{"no token", func(c *Config) { c.BearerToken = "" }, "bearer token", func(s Stats) uint64 { return s.AuthFailures }},
	{"wrong token", func(c *Config) { c.BearerToken = "guess" }, "different bearer token", func(s Stats) uint64 { return s.AuthFailures }},
	{"incompatible version", func(c *Config) { c.AppVersion = "2.0.0" }, `incompatible app version "1.4.0" (local "2.0.0")`, func(s Stats) uint64 { return s.NotMemberDropped }},
}

// TestIntrudersKeptOut starts, for each kind of intruder, a node that cannot
// join, checks that members never count it and that nothing it sends
// straight to a member's address (UDP packet, memberlist stream, engine
// reliable stream) reaches a handler, and that a counter says why.
func TestIntrudersKeptOut(t *testing.T) {
	members := startCluster(t, 2, func(i int, cfg *Config) { secure(cfg) })
	target := members[1]
	var rec recorder
	_ = target.Handle(200, rec.handle)
	for _, in := range intruders {
		t.Run(strings.ReplaceAll(in.name, " ", "_"), func(t *testing.T) {
			cfg := testConfig("x-" + strings.ReplaceAll(in.name, " ", "-"))
			secure(&cfg)
			in.tweak(&cfg)
			x := startNode(t, cfg)

			_, err := x.Join(context.Background(), []string{target.LocalNode().Addr})
			if !errors.Is(err, ErrJoinFailed) || !strings.Contains(err.Error(), in.joinErr) {
				t.Fatalf("intruder join: err = %v", err)
			}
			// Refused in both directions: a member cannot pull it in either.
			if _, err := members[0].Join(context.Background(), []string{x.LocalNode().Addr}); !errors.Is(err, ErrJoinFailed) {
				t.Fatalf("member joining the intruder: err = %v", err)
			}

			before := in.counter(target.Stats())
			received := rec.n.Load()
			env := encodeEnvelope(&envelope{msgType: 200, sender: x.id, payload: mustEncode(t, "injected")}, x.tokenKey)
			renv := encodeEnvelope(&envelope{msgType: 200, sender: x.id, payload: mustEncode(t, "injected"), session: sessionID{1}, seq: 1, reliable: true}, x.tokenKey)
			p := target.peers.get(target.id)
			node := &memberlist.Node{Name: target.id, Addr: p.ip, Port: p.port}
			_ = x.ml.SendBestEffort(node, env)
			_ = x.ml.SendReliable(node, env)
			if x.tr != nil {
				_ = x.tr.Send(p.addr, renv)
			}
			waitFor(t, 10*time.Second, in.name+" refusal counted", func() bool { return in.counter(target.Stats()) > before })

			// Never counted alive, never delivered: watch for several
			// failure-detector rounds while the member keeps dispatching.
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				target.Dispatch()
				for _, m := range members {
					if n := m.NumAlive(); n > 2 {
						t.Fatalf("%s sees %d alive nodes: %+v", m.id, n, m.AliveNodes())
					}
					if m.peers.get(x.id) != nil {
						t.Fatalf("%s knows the intruder", m.id)
					}
				}
				if x.NumAlive() != 1 {
					t.Fatalf("intruder sees %d alive nodes", x.NumAlive())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := rec.n.Load(); got != received {
				t.Fatalf("the intruder's message reached the handler: %+v", rec.all())
			}
		})
	}
	// The members still talk to each other.
	if err := members[0].SendTo(context.Background(), "n1", 200, "legit", true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, target, 5*time.Second, "legit message", func() bool { return rec.n.Load() == 1 })
	if m := rec.all()[0]; m.Payload != "legit" || m.Sender.ID != "n0" {
		t.Fatalf("message %+v", m)
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, _, err := (&Cluster{cfg: &settings{}}).encodePayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTokenCoversEveryEnvelope checks that the envelopes the engine builds
// for metadata, push/pull state and key rotation carry the token MAC, and
// that a member refuses each of them without it.
func TestTokenCoversEveryEnvelope(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { cfg.BearerToken = testToken })
	a, b := nodes[0], nodes[1]
	envs := map[string][]byte{
		"metadata update":  a.localUpdate(false),
		"push/pull digest": a.encodeDigest(),
	}
	for name, env := range envs {
		if _, err := decodeEnvelope(env, tokenKey(testToken)); err != nil {
			t.Errorf("%s does not verify with the token: %v", name, err)
		}
		if _, err := decodeEnvelope(env, tokenKey("other")); !errors.Is(err, errAuth) {
			t.Errorf("%s verifies with another token: %v", name, err)
		}
	}
	before := b.Stats().AuthFailures
	for _, typ := range []int{msgMetaUpdate, msgMetaPull, msgMetaFetch, msgMetaChunk, msgKeyRequest, msgKeyReply, 200} {
		b.receive(encodeEnvelope(&envelope{msgType: typ, sender: "n0", payload: []byte{1}}, nil), false)
		b.receive(encodeEnvelope(&envelope{msgType: typ, sender: "n0", payload: []byte{1}}, tokenKey("forged")), false)
	}
	if got := b.Stats().AuthFailures - before; got != 14 {
		t.Fatalf("auth failures = %d, want 14", got)
	}
	// A tampered byte breaks the MAC.
	env := encodeEnvelope(&envelope{msgType: 200, sender: "n0", payload: mustEncode(t, "abc")}, tokenKey(testToken))
	env[len(env)-macLen-1] ^= 1
	if _, err := decodeEnvelope(env, tokenKey(testToken)); !errors.Is(err, errAuth) {
		t.Fatalf("tampered envelope: %v", err)
	}
}

// TestKeyRequestReplayRefused replays a recorded key request: the first
// copy is applied, the replay and a stale request are refused.
func TestKeyRequestReplayRefused(t *testing.T) {
	nodes := startCluster(t, 2, func(i int, cfg *Config) { secure(cfg) })
	b := nodes[1]
	req := func(id uint64, issued time.Time) []byte {
		body := []byte{keyOpInstall}
		body = binary.AppendUvarint(body, id)
		body = binary.AppendUvarint(body, uint64(issued.UnixNano()))
		body = appendString(body, testKey2)
		return encodeEnvelope(&envelope{msgType: msgKeyRequest, sender: "n0", payload: body}, tokenKey(testToken))
	}
	before := b.Stats().AuthFailures
	b.receive(req(42, time.Now()), false)
	if n := len(b.cfg.keyring.GetKeys()); n != 2 {
		t.Fatalf("request not applied: %d keys", n)
	}
	_ = b.cfg.keyring.RemoveKey([]byte(testKey2))
	b.receive(req(42, time.Now()), false)                          // replay
	b.receive(req(43, time.Now().Add(-3*keyRequestMaxAge)), false) // stale
	if n := len(b.cfg.keyring.GetKeys()); n != 1 {
		t.Fatalf("replayed request applied: %d keys", n)
	}
	if got := b.Stats().AuthFailures - before; got != 2 {
		t.Fatalf("auth failures = %d, want 2", got)
	}
	// A request from a node that is not a member is ignored.
	body := []byte{keyOpInstall}
	body = binary.AppendUvarint(body, 44)
	body = binary.AppendUvarint(body, uint64(time.Now().UnixNano()))
	body = appendString(body, testKey2)
	b.receive(encodeEnvelope(&envelope{msgType: msgKeyRequest, sender: "stranger", payload: body}, tokenKey(testToken)), false)
	if n := len(b.cfg.keyring.GetKeys()); n != 1 || b.Stats().NotMemberDropped == 0 {
		t.Fatalf("request from a stranger applied (%d keys) or not counted", n)
	}
}

// TestKeyRotationUnderLoad rotates the key of a five-node cluster while
// two nodes stream reliable messages to everyone, and checks that every
// message arrives, in order, and that the old key no longer works.
func TestKeyRotationUnderLoad(t *testing.T) {
	const n = 5
	nodes := startCluster(t, n, func(i int, cfg *Config) {
		secure(cfg)
		// A node falsely suspected on a starved test machine has its
		// reliable streams restarted, which is not what this test is about.
		cfg.ProbeInterval, cfg.ProbeTimeout, cfg.SuspicionMult = time.Second, 500*time.Millisecond, 6
	})
	type seqs struct {
		mu   sync.Mutex
		last map[string]int64
		bad  []string
	}
	got := make([]*seqs, n)
	for i, c := range nodes {
		s := &seqs{last: map[string]int64{}}
		got[i] = s
		_ = c.Handle(500, func(m Message) {
			s.mu.Lock()
			defer s.mu.Unlock()
			v := m.Payload.(int64)
			if v != s.last[m.Sender.ID]+1 {
				s.bad = append(s.bad, fmt.Sprintf("%s: %d after %d", m.Sender.ID, v, s.last[m.Sender.ID]))
			}
			s.last[m.Sender.ID] = v
		})
	}
	// Each node dispatches on its own goroutine, as a script would.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Wait(context.Background(), 10*time.Millisecond)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	senders := []*Cluster{nodes[3], nodes[4]}
	var sent [2]atomic.Int64
	stopSend := make(chan struct{})
	var swg sync.WaitGroup
	for i, c := range senders {
		swg.Add(1)
		go func() {
			defer swg.Done()
			for seq := int64(1); ; seq++ {
				select {
				case <-stopSend:
					return
				default:
				}
				if err := c.Send(context.Background(), 500, seq, true, -1); err != nil {
					t.Errorf("send %d: %v", seq, err)
					return
				}
				sent[i].Store(seq)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	// Let traffic flow under the old key first.
	waitFor(t, 10*time.Second, "traffic before rotation", func() bool { return sent[0].Load() > 50 && sent[1].Load() > 50 })

	all := func(res KeyResult, err error, step string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if len(res.OK) != n || len(res.Failed) != 0 {
			t.Fatalf("%s: %+v", step, res)
		}
	}
	res, err := nodes[0].InstallKey(testKey2)
	all(res, err, "install")
	res, err = nodes[1].UseKey(testKey2) // any node can drive a step
	all(res, err, "use")
	waitFor(t, 10*time.Second, "traffic under the new key", func() bool { return sent[0].Load() > 150 && sent[1].Load() > 150 })
	res, err = nodes[2].RemoveKey(testKey1)
	all(res, err, "remove")
	if res.Key != KeyFingerprint([]byte(testKey1)) {
		t.Fatalf("result names key %s", res.Key)
	}
	waitFor(t, 10*time.Second, "traffic after removal", func() bool { return sent[0].Load() > 250 && sent[1].Load() > 250 })
	close(stopSend)
	swg.Wait()

	want := map[string]int64{"n3": sent[0].Load(), "n4": sent[1].Load()}
	waitFor(t, 30*time.Second, "every message delivered", func() bool {
		for i, s := range got {
			s.mu.Lock()
			ok := true
			for id, w := range want {
				if id != nodes[i].id && s.last[id] != w {
					ok = false
				}
			}
			s.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	for i, s := range got {
		s.mu.Lock()
		if len(s.bad) > 0 {
			t.Errorf("n%d: out of order or missing: %v", i, s.bad[:min(5, len(s.bad))])
		}
		s.mu.Unlock()
	}
	for _, c := range nodes {
		if st := c.Stats(); st.ReliableFailed != 0 || t.Failed() {
			t.Errorf("%s: %+v", c.id, st)
		}
	}

	list, err := nodes[4].ListKeys()
	if err != nil {
		t.Fatal(err)
	}
	fp := KeyFingerprint([]byte(testKey2))
	if list.Primary != fp || list.Nodes != n || len(list.Failed) != 0 ||
		fmt.Sprint(list.Keys) != fmt.Sprintf("map[%s:%d]", fp, n) || fmt.Sprint(list.Primaries) != fmt.Sprintf("map[%s:%d]", fp, n) {
		t.Fatalf("list = %+v", list)
	}
	// The old key is useless now.
	cfg := testConfig("old-key")
	secure(&cfg)
	x := startNode(t, cfg)
	if _, err := x.Join(context.Background(), []string{nodes[0].LocalNode().Addr}); !errors.Is(err, ErrJoinFailed) {
		t.Fatalf("join with the removed key: %v", err)
	}
}

// TestDecompressionBombRefused sends a compressed payload claiming to
// expand to 1 GiB: it is refused from its header with a logged error,
// without allocating the claimed size, and the node keeps working.
func TestDecompressionBombRefused(t *testing.T) {
	var logs lockedBuffer
	nodes := startCluster(t, 2, func(i int, cfg *Config) {
		if i == 1 {
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
		}
	})
	b := nodes[1]
	var rec recorder
	_ = b.Handle(200, rec.handle)
	bomb := binary.AppendUvarint(nil, 1<<30) // snappy header: decoded length
	bomb = append(bomb, 0, 0, 0, 0)
	env := encodeEnvelope(&envelope{flags: envCompressed, msgType: 200, sender: "n0", payload: bomb}, nil)
	before := b.Stats().DecodeErrors
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.receive(env, false)
	runtime.ReadMemStats(&m1)
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 64<<20 {
		t.Fatalf("refusing the bomb allocated %d bytes", grew)
	}
	if b.Stats().DecodeErrors != before+1 {
		t.Fatal("bomb not counted as a decode error")
	}
	if !strings.Contains(logs.String(), "decompress past the size limit") {
		t.Fatalf("no error logged: %q", logs.String())
	}
	_ = nodes[0].SendTo(context.Background(), "n1", 200, strings.Repeat("fine ", 100), true, -1)
	pump(t, b, 5*time.Second, "a normal message after the bomb", func() bool { return rec.n.Load() == 1 })
}

// lockedBuffer is a bytes.Buffer safe for concurrent log writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
