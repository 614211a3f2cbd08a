package streams

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/testnet"
)

func TestMain(m *testing.M) {
	testnet.VerifyNoLeaks(m)
}

// newNet returns a real memberlist TCP/UDP transport on 127.0.0.1. port 0
// picks a free port.
func newNet(tb testing.TB, port int) (*memberlist.NetTransport, string) {
	tb.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		tb.Fatalf("NewNetTransport: %v", err)
	}
	return nt, net.JoinHostPort("127.0.0.1", strconv.Itoa(nt.GetAutoBindPort()))
}

// newNode wraps a fresh NetTransport; it is shut down at the end of the test.
func newNode(tb testing.TB, cfg Config) (*Transport, string) {
	tb.Helper()
	nt, addr := newNet(tb, 0)
	tr := Wrap(nt, cfg)
	tb.Cleanup(func() { _ = tr.Shutdown() })
	return tr, addr
}

// waitFor polls cond until it holds or the deadline passes, every 2 ms:
// frames arrive well within a millisecond on loopback.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	testnet.PollFor(tb, 2*time.Millisecond, timeout, what, cond)
}

// collector records received frames.
type collector struct {
	mu     sync.Mutex
	frames [][]byte
}

func (c *collector) handle(_ net.Addr, frame []byte) {
	c.mu.Lock()
	c.frames = append(c.frames, append([]byte(nil), frame...)) // lent for the call only
	c.mu.Unlock()
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

func (c *collector) snapshot() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// seqFrame encodes a sender id and a sequence number, padded to size.
func seqFrame(id, seq uint32, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.BigEndian.PutUint32(b, id)
	binary.BigEndian.PutUint32(b[4:], seq)
	return b
}

func parseSeq(b []byte) (id, seq uint32) {
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
}

// checkInOrder verifies frames carry ids[i] sequences 0..n-1 in order,
// exactly once each.
func checkInOrder(frames [][]byte, senders, n int) error {
	next := make([]uint32, senders)
	for _, f := range frames {
		id, seq := parseSeq(f)
		if int(id) >= senders {
			return fmt.Errorf("unknown sender %d", id)
		}
		if seq != next[id] {
			return fmt.Errorf("sender %d: got seq %d, want %d", id, seq, next[id])
		}
		next[id]++
	}
	for id, got := range next {
		if int(got) != n {
			return fmt.Errorf("sender %d: got %d frames, want %d", id, got, n)
		}
	}
	return nil
}

// countingDelegate counts memberlist user messages.
type countingDelegate struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (d *countingDelegate) NodeMeta(int) []byte { return nil }
func (d *countingDelegate) NotifyMsg(b []byte) {
	cp := append([]byte(nil), b...)
	d.mu.Lock()
	d.msgs = append(d.msgs, cp)
	d.mu.Unlock()
}
func (d *countingDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *countingDelegate) LocalState(bool) []byte          { return nil }
func (d *countingDelegate) MergeRemoteState([]byte, bool)   {}

func (d *countingDelegate) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.msgs)
}

// newMemberlist starts a memberlist node on tr with short intervals.
func newMemberlist(tb testing.TB, name string, tr memberlist.NodeAwareTransport, d memberlist.Delegate) *memberlist.Memberlist {
	tb.Helper()
	c := memberlist.DefaultLANConfig()
	c.Name = name
	c.BindAddr = "127.0.0.1"
	c.BindPort = 0
	c.Transport = tr
	c.Delegate = d
	c.LogOutput = io.Discard
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = time.Second
	c.TCPTimeout = 2 * time.Second
	ml, err := memberlist.Create(c)
	if err != nil {
		tb.Fatalf("memberlist.Create: %v", err)
	}
	tb.Cleanup(func() { _ = ml.Shutdown() })
	return ml
}

// appendPlainFrame appends frame number index as an unencrypted stream
// carries it: length, payload, CRC-32C.
func appendPlainFrame(b []byte, index uint64, frame []byte) []byte {
	var s scratch
	crc, _ := s.frameCRC(index, uint64(len(frame)), frame)
	b = binary.AppendUvarint(b, uint64(len(frame)))
	b = append(b, frame...)
	return binary.BigEndian.AppendUint32(b, crc)
}

// rotateKeys rotates sender A's and receiver B's rings from key(1) to
// key(9) in the documented order (install everywhere, switch the primary,
// remove the old key), calling step after each stage.
func rotateKeys(t *testing.T, krA, krB *memberlist.Keyring, step func(stage string)) {
	t.Helper()
	step("old key")
	for _, kr := range []*memberlist.Keyring{krA, krB} {
		if err := kr.AddKey(key(9)); err != nil {
			t.Fatal(err)
		}
	}
	step("new key installed")
	if err := krA.UseKey(key(9)); err != nil {
		t.Fatal(err)
	}
	step("sender uses the new key")
	if err := krB.UseKey(key(9)); err != nil {
		t.Fatal(err)
	}
	if err := krB.RemoveKey(key(1)); err != nil {
		t.Fatal(err)
	}
	if err := krA.RemoveKey(key(1)); err != nil {
		t.Fatal(err)
	}
	step("old key removed")
}
