package engine

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// sealAs seals plain the way memberlist does (version 1: no padding).
func sealAs(t *testing.T, key string, plain, ad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{1}
	nonce := make([]byte, mlNonceSize)
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, plain, ad)
}

// streamMessage is a memberlist stream's first message sealed under key.
func streamMessage(t *testing.T, key string, plain []byte) []byte {
	t.Helper()
	n := len(plain) + mlSealOverhead
	head := []byte{mlEncryptMsg, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(head[1:], uint32(n))
	return append(head, sealAs(t, key, plain, head)...)
}

func newTestSealCheck(t *testing.T, readFor time.Duration, keys ...string) (*sealCheck, *atomic.Int64) {
	t.Helper()
	ring, err := memberlist.NewKeyring(nil, []byte(keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[1:] {
		if err := ring.AddKey([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	var failures atomic.Int64
	return newSealCheck(ring, func() { failures.Add(1) }, readFor), &failures
}

// checkStream runs the stream check on a pipe fed with sent, of which the
// first peek bytes count as already read by the router.
func checkStream(s *sealCheck, sent []byte, peek int, hold bool) ([]byte, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_, _ = b.Write(sent[peek:])
		if !hold {
			_ = b.Close()
		}
	}()
	return s.stream(a, append([]byte(nil), sent[:peek]...))
}

// The stream check hands every complete first message on with exactly
// the bytes to replay (memberlist answers refusals itself), counts those not
// sealed with an installed key, and closes only a connection that does not
// deliver its message.
func TestSealCheckStream(t *testing.T) {
	s, failures := newTestSealCheck(t, 2*time.Second, testKey1, testKey3)
	for _, key := range []string{testKey1, testKey3} {
		msg := streamMessage(t, key, []byte("push/pull state"))
		for _, peek := range []int{1, 4} {
			got, err := checkStream(s, msg, peek, true)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("key %q peek %d: err %v, replay %d of %d bytes", key, peek, err, len(got), len(msg))
			}
		}
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d failures counted for good messages", n)
	}

	cases := []struct {
		name    string
		msg     []byte
		replay  int // bytes handed on; -1: the connection is closed
		counted bool
	}{
		{"plaintext", append([]byte{6}, bytes.Repeat([]byte{1}, 40)...), 5, true},
		{"wrong key", streamMessage(t, testKey2, []byte("state")), -2, true},
		{"tampered", func() []byte { m := streamMessage(t, testKey1, []byte("state")); m[len(m)-1] ^= 1; return m }(), -2, true},
		{"over memberlist's limit", []byte{mlEncryptMsg, 0xff, 0xff, 0xff, 0xff, 1}, 5, false},
		{"truncated", streamMessage(t, testKey1, []byte("state"))[:20], -1, false},
	}
	for _, c := range cases {
		before := failures.Load()
		got, err := checkStream(s, c.msg, 1, false)
		want := c.replay
		if want == -2 {
			want = len(c.msg)
		}
		switch {
		case want == -1 && err == nil:
			t.Fatalf("%s: handed on %d bytes, want the connection closed", c.name, len(got))
		case want >= 0 && (err != nil || !bytes.Equal(got, c.msg[:want])):
			t.Fatalf("%s: err %v, replay %q; want %q", c.name, err, got, c.msg[:want])
		}
		if counted := failures.Load() > before; counted != c.counted {
			t.Fatalf("%s: counted %v, want %v", c.name, counted, c.counted)
		}
	}
}

// A peer that announces memberlist's largest message and sends a few bytes
// is dropped when the read window ends, and costs no more than it sent.
func TestSealCheckStreamSlowPeer(t *testing.T) {
	s, failures := newTestSealCheck(t, 200*time.Millisecond, testKey1)
	head := []byte{mlEncryptMsg, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(head[1:], mlMaxStreamMessage)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	_, err := checkStream(s, append(head, 1, 2, 3), 1, true)
	runtime.ReadMemStats(&m1)
	if err == nil {
		t.Fatal("a stalled message passed")
	}
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 1<<20 {
		t.Fatalf("waiting for a stalled message allocated %d bytes", grew)
	}
	if failures.Load() != 0 {
		t.Fatal("a stalled message counted as a decrypt failure")
	}
}

// Packets pass under any installed key (the ring's ciphers follow rotation)
// and nothing else does.
func TestSealCheckPacket(t *testing.T) {
	s, failures := newTestSealCheck(t, 0, testKey1)
	good := &memberlist.Packet{Buf: sealAs(t, testKey1, []byte("ping"), nil)}
	if !s.packet(good) {
		t.Fatal("a packet sealed with the key was refused")
	}
	for _, buf := range [][]byte{nil, {0}, []byte("plain ping"), sealAs(t, testKey3, []byte("ping"), nil), append([]byte{2}, good.Buf[1:]...)} {
		if s.packet(&memberlist.Packet{Buf: buf}) {
			t.Fatalf("packet %q passed", buf)
		}
	}
	if failures.Load() != 5 {
		t.Fatalf("%d failures counted, want 5", failures.Load())
	}
	if err := s.ring.AddKey([]byte(testKey3)); err != nil {
		t.Fatal(err)
	}
	if !s.packet(&memberlist.Packet{Buf: sealAs(t, testKey3, []byte("ping"), nil)}) {
		t.Fatal("a packet under a newly installed key was refused")
	}
}

// What memberlist itself writes passes the checks: a keyed cluster gossips,
// pushes and pulls state (through the stream check) and rotates its key
// without a single refusal. This is the test that fails if memberlist's
// sealing format changes.
func TestSealCheckAcceptsMemberlist(t *testing.T) {
	nodes := startCluster(t, 3, func(i int, cfg *Config) { secure(cfg) })
	forwarded := func() bool {
		for _, c := range nodes {
			if c.tr.Stats().ConnsForwarded < 3 {
				return false
			}
		}
		return true
	}
	waitFor(t, 20*time.Second, "three push/pulls into every node", forwarded)
	if _, err := nodes[0].InstallKey(testKey3); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].UseKey(testKey3); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].RemoveKey(testKey1); err != nil {
		t.Fatal(err)
	}
	base := make([]uint64, len(nodes))
	for i, c := range nodes {
		base[i] = c.tr.Stats().ConnsForwarded
	}
	waitFor(t, 20*time.Second, "push/pulls under the new key", func() bool {
		for i, c := range nodes {
			if c.tr.Stats().ConnsForwarded < base[i]+2 {
				return false
			}
		}
		return true
	})
	for _, c := range nodes {
		st, ts := c.Stats(), c.tr.Stats()
		if st.DecryptFailures != 0 || ts.PacketsFiltered != 0 || ts.ConnsFiltered != 0 || c.NumAlive() != 3 {
			t.Fatalf("%s: decrypt failures %d, packets filtered %d, conns filtered %d, alive %d",
				c.id, st.DecryptFailures, ts.PacketsFiltered, ts.ConnsFiltered, c.NumAlive())
		}
	}
}

// Junk sent to a keyed node's UDP port is counted one for one and never
// reaches memberlist (which would log each packet it fails to decrypt).
func TestJunkPacketsRefusedBeforeMemberlist(t *testing.T) {
	var logs lockedBuffer
	cfg := testConfig("target")
	secure(&cfg)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	target := startNode(t, cfg)
	conn, err := net.Dial("udp", target.LocalNode().Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const junk = 60
	for i := range junk {
		var p []byte
		switch i % 3 {
		case 0:
			p = []byte("not sealed at all")
		case 1:
			p = sealAs(t, testKey3, []byte("ping"), nil)
		default:
			p = make([]byte, 200)
			_, _ = rand.Read(p)
			p[0] = 1
		}
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// Loopback UDP may still drop a datagram under load, so the exact count
	// is checked against what the transport received rather than assumed.
	waitFor(t, 10*time.Second, "junk counted", func() bool {
		return target.Stats().DecryptFailures == target.tr.Stats().PacketsFiltered && target.tr.Stats().PacketsFiltered >= junk*9/10
	})
	if n := target.Stats().DecryptFailures; n > junk {
		t.Fatalf("%d failures counted for %d packets", n, junk)
	}
	if strings.Contains(logs.String(), "Decrypt packet failed") {
		t.Fatal("junk reached memberlist")
	}
}
