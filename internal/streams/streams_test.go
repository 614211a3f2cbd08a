package streams

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestSendInOrderExactlyOnce(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{})
	_, addrB := newNode(t, Config{Handler: got.handle})

	const n = 10000
	for i := 0; i < n; i++ {
		var err error
		if i%3 == 0 {
			err = a.SendAsync(addrB, seqFrame(0, uint32(i), 100), nil)
		} else {
			err = a.Send(addrB, seqFrame(0, uint32(i), 100))
		}
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	waitFor(t, 20*time.Second, "all frames", func() bool { return got.count() >= n })
	if err := checkInOrder(got.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.FramesSent != n || s.ConnsOpened != 1 || s.SendErrors != 0 {
		t.Fatalf("sender stats: %+v", s)
	}
}

func TestConcurrentSendersKeepPerGoroutineOrder(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{QueueFrames: 64})
	b, addrB := newNode(t, Config{Handler: got.handle})

	const senders, n = 8, 2000
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(id uint32) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := a.Send(addrB, seqFrame(id, uint32(i), 64)); err != nil {
					errs <- err
					return
				}
			}
		}(uint32(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "all frames", func() bool { return got.count() >= senders*n })
	if err := checkInOrder(got.snapshot(), senders, n); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.ConnsAccepted != 1 {
		t.Fatalf("want one stream, receiver stats %+v", s)
	}
}

func TestMemberlistSharesPort(t *testing.T) {
	var gotA, gotB collector
	ntA, _ := newNet(t, 0)
	ntB, _ := newNet(t, 0)
	trA := Wrap(ntA, Config{Handler: gotA.handle})
	trB := Wrap(ntB, Config{Handler: gotB.handle})
	t.Cleanup(func() { _ = trA.Shutdown(); _ = trB.Shutdown() })

	var dA, dB countingDelegate
	mlA := newMemberlist(t, "a", trA, &dA)
	mlB := newMemberlist(t, "b", trB, &dB)

	if _, err := mlB.Join([]string{mlA.LocalNode().Address()}); err != nil {
		t.Fatalf("join: %v", err)
	}
	alive := func(ml *memberlist.Memberlist) bool {
		n := 0
		for _, m := range ml.Members() {
			if m.State == memberlist.StateAlive {
				n++
			}
		}
		return n == 2
	}
	waitFor(t, 10*time.Second, "both nodes alive", func() bool { return alive(mlA) && alive(mlB) })

	var nodeA, nodeB *memberlist.Node
	for _, m := range mlA.Members() {
		if m.Name == "b" {
			nodeB = m
		}
	}
	for _, m := range mlB.Members() {
		if m.Name == "a" {
			nodeA = m
		}
	}

	// Stream traffic both ways while memberlist's reliable messages use the
	// same ports.
	const n = 3000
	var wg sync.WaitGroup
	streamErr := make(chan error, 2)
	for _, dir := range []struct {
		tr   *Transport
		addr string
	}{{trA, nodeB.Address()}, {trB, nodeA.Address()}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := dir.tr.Send(dir.addr, seqFrame(0, uint32(i), 100)); err != nil {
					streamErr <- err
					return
				}
			}
		}()
	}
	const reliable = 50
	for i := 0; i < reliable; i++ {
		if err := mlA.SendReliable(nodeB, []byte("to-b-"+strconv.Itoa(i))); err != nil {
			t.Fatalf("SendReliable a->b: %v", err)
		}
		if err := mlB.SendReliable(nodeA, []byte("to-a-"+strconv.Itoa(i))); err != nil {
			t.Fatalf("SendReliable b->a: %v", err)
		}
	}
	wg.Wait()
	close(streamErr)
	for err := range streamErr {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "memberlist messages", func() bool { return dA.count() == reliable && dB.count() == reliable })
	waitFor(t, 10*time.Second, "stream frames", func() bool { return gotA.count() == n && gotB.count() == n })
	if err := checkInOrder(gotA.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
	if err := checkInOrder(gotB.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
	if s := trB.Stats(); s.ConnsForwarded == 0 || s.ConnsAccepted == 0 {
		t.Fatalf("demux did not route both kinds: %+v", s)
	}
	if !alive(mlA) || !alive(mlB) {
		t.Fatal("a node is no longer alive")
	}
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func keyring(t *testing.T, primary []byte, others ...[]byte) *memberlist.Keyring {
	t.Helper()
	kr, err := memberlist.NewKeyring(append([][]byte{primary}, others...), primary)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestEncryptionSameKey(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{Keyring: keyring(t, key(1)), Label: "cluster"})
	b, addrB := newNode(t, Config{Keyring: keyring(t, key(1)), Label: "cluster", Handler: got.handle})
	const n = 500
	for i := 0; i < n; i++ {
		if err := a.Send(addrB, seqFrame(0, uint32(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "frames", func() bool { return got.count() == n })
	if err := checkInOrder(got.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.DecryptFailures != 0 || s.BytesReceived != n*100 {
		t.Fatalf("receiver stats %+v", s)
	}
}

func TestEncryptionWrongKeyNeverDelivers(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{Keyring: keyring(t, key(1))})
	b, addrB := newNode(t, Config{Keyring: keyring(t, key(2)), Handler: got.handle})

	for i := 0; i < 20; i++ {
		var he *HandshakeError
		if err := a.Send(addrB, []byte("secret")); !errors.As(err, &he) || he.Status != statusKeyMismatch {
			t.Fatalf("send %d under the wrong key: %v", i, err)
		}
	}
	if n := got.count(); n != 0 {
		t.Fatalf("handler received %d frames under the wrong key", n)
	}
	if s := b.Stats(); s.FramesReceived != 0 || s.DecryptFailures != 20 || s.ConnsAccepted != 0 {
		t.Fatalf("receiver stats %+v", s)
	}
}

func TestEncryptionMismatchRefused(t *testing.T) {
	var got collector
	plain, _ := newNode(t, Config{})
	enc, addrEnc := newNode(t, Config{Keyring: keyring(t, key(1)), Handler: got.handle})
	_, addrPlain := newNode(t, Config{Handler: got.handle})

	var he *HandshakeError
	if err := plain.Send(addrEnc, []byte("x")); !errors.As(err, &he) || he.Status != statusEncryptionMismatch {
		t.Fatalf("plain->encrypted: got %v", err)
	}
	if err := enc.Send(addrPlain, []byte("x")); !errors.As(err, &he) || he.Status != statusEncryptionMismatch {
		t.Fatalf("encrypted->plain: got %v", err)
	}
	if got.count() != 0 {
		t.Fatal("frame delivered across an encryption mismatch")
	}
}

func TestLabelMismatchRefused(t *testing.T) {
	a, _ := newNode(t, Config{Label: "one"})
	_, addrB := newNode(t, Config{Label: "two"})
	var he *HandshakeError
	if err := a.Send(addrB, []byte("x")); !errors.As(err, &he) || he.Status != statusLabelMismatch {
		t.Fatalf("got %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	var got collector
	krA, krB := keyring(t, key(1)), keyring(t, key(1))
	a, _ := newNode(t, Config{Keyring: krA})
	b, addrB := newNode(t, Config{Keyring: krB, Handler: got.handle})

	seq := uint32(0)
	burst := func(stage string) {
		t.Helper()
		for i := 0; i < 200; i++ {
			if err := a.Send(addrB, seqFrame(0, seq, 50)); err != nil {
				t.Fatalf("%s: send: %v", stage, err)
			}
			seq++
		}
		waitFor(t, 10*time.Second, stage, func() bool { return got.count() == int(seq) })
	}
	rotateKeys(t, krA, krB, burst)
	if err := checkInOrder(got.snapshot(), 1, int(seq)); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.DecryptFailures != 0 || s.ConnsAccepted != 1 {
		t.Fatalf("rotation disturbed the stream: %+v", s)
	}
}

// rawStream dials addr and completes the handshake by hand.
func rawStream(t *testing.T, addr string, label string) net.Conn {
	t.Helper()
	c := dialRaw(t, addr)
	d := labelDigest(label)
	if _, err := c.Write(appendHello(nil, false, &d)); err != nil {
		t.Fatal(err)
	}
	if err := readReply(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOversizeClaimClosesConn(t *testing.T) {
	var got collector
	b, addrB := newNode(t, Config{Handler: got.handle, MaxFrameSize: 1024})

	c := rawStream(t, addrB, "")
	buf := appendPlainFrame(nil, 0, []byte("abc"))
	buf = binary.AppendUvarint(buf, 1<<50) // would be fatal to allocate
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("want clean close, got %v", err)
	}
	if s := b.Stats(); s.OversizeFrames != 1 {
		t.Fatalf("stats %+v", s)
	}
	if f := got.snapshot(); len(f) != 1 || string(f[0]) != "abc" {
		t.Fatalf("frames before the bad claim: %q", f)
	}

	// One byte over the limit is refused too; the sender side rejects it
	// before it reaches the wire.
	c2 := rawStream(t, addrB, "")
	if _, err := c2.Write(binary.AppendUvarint(nil, 1025)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c2); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.OversizeFrames != 2 {
		t.Fatalf("stats %+v", s)
	}
	a, _ := newNode(t, Config{MaxFrameSize: 1024})
	if err := a.Send(addrB, make([]byte, 1025)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversize Send: %v", err)
	}
}

func TestPeerRestart(t *testing.T) {
	var got1, got2 collector
	a, _ := newNode(t, Config{DialTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	ntB, addrB := newNet(t, 0)
	b := Wrap(ntB, Config{Handler: got1.handle})
	t.Cleanup(func() { _ = b.Shutdown() })

	if err := a.Send(addrB, []byte("one")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first frame", func() bool { return got1.count() == 1 })
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// The sender notices the closed stream; with no listener, dials are
	// refused at once.
	start := time.Now()
	waitFor(t, 5*time.Second, "Send to fail", func() bool { return a.Send(addrB, []byte("lost")) != nil })
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Send took %v to report the dead peer", d)
	}

	_, port, _ := net.SplitHostPort(addrB)
	p, _ := strconv.Atoi(port)
	ntB2, _ := newNet(t, p)
	b2 := Wrap(ntB2, Config{Handler: got2.handle})
	t.Cleanup(func() { _ = b2.Shutdown() })

	if err := a.Send(addrB, []byte("again")); err != nil {
		t.Fatalf("Send after restart: %v", err)
	}
	waitFor(t, 5*time.Second, "frame after restart", func() bool { return got2.count() == 1 })
	if f := got2.snapshot(); string(f[0]) != "again" {
		t.Fatalf("got %q", f[0])
	}
	if s := a.Stats(); s.ConnsOpened != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestIdleTimeoutAndClosePeer(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{IdleTimeout: 50 * time.Millisecond})
	b, addrB := newNode(t, Config{Handler: got.handle})
	if err := a.Send(addrB, []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "idle close", func() bool { return a.Stats().IdleClosed == 1 })
	if err := a.Send(addrB, []byte("2")); err != nil {
		t.Fatal(err)
	}
	a.ClosePeer(addrB)
	a.ClosePeer("127.0.0.1:1") // unknown: no-op
	if err := a.Send(addrB, []byte("3")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "frames", func() bool { return got.count() == 3 })
	if s := a.Stats(); s.ConnsOpened != 3 {
		t.Fatalf("sender stats %+v", s)
	}
	if s := b.Stats(); s.ConnsAccepted != 3 {
		t.Fatalf("receiver stats %+v", s)
	}
}

func TestNonStreamConnsForwarded(t *testing.T) {
	b, addrB := newNode(t, Config{})
	for _, payload := range [][]byte{
		[]byte("\x06memberlist push-pull"),
		{0xF7, 'n', 'o', 'p', 'e', '!'}, // magic's first byte only
	} {
		c, err := net.Dial("tcp", addrB)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		var fwd net.Conn
		select {
		case fwd = <-b.StreamCh():
		case <-time.After(5 * time.Second):
			t.Fatal("connection not forwarded")
		}
		_ = fwd.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(payload))
		if _, err := io.ReadFull(fwd, buf); err != nil || !bytes.Equal(buf, payload) {
			t.Fatalf("forwarded bytes %q, %v; want %q", buf, err, payload)
		}
		_ = fwd.Close()
		_ = c.Close()
	}
}

func TestShutdownIdempotent(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{})
	b, addrB := newNode(t, Config{Handler: got.handle})
	if err := a.Send(addrB, []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "frame", func() bool { return got.count() == 1 })
	for i := 0; i < 3; i++ {
		if err := a.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if err := b.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Send(addrB, []byte("x")); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Send after Shutdown: %v", err)
	}
	if err := a.SendAsync(addrB, []byte("x"), nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("SendAsync after Shutdown: %v", err)
	}
}

func TestSendAsyncCallbacks(t *testing.T) {
	var got collector
	a, _ := newNode(t, Config{})
	_, addrB := newNode(t, Config{Handler: got.handle})
	const n = 1000
	var mu sync.Mutex
	var done int
	var firstErr error
	for i := 0; i < n; i++ {
		frame := seqFrame(0, uint32(i), 32)
		err := a.SendAsync(addrB, frame, func(err error) {
			mu.Lock()
			done++
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		clear(frame) // SendAsync copied it
	}
	waitFor(t, 10*time.Second, "callbacks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return done == n
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	waitFor(t, 10*time.Second, "frames", func() bool { return got.count() == n })
	if err := checkInOrder(got.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
}
