package streams

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sessionPair returns the sealer and opener of one handshake's session,
// joined by a buffer, rekeying every 3 records or 1000 bytes.
func sessionPair(t *testing.T) (*sealer, *opener) {
	t.Helper()
	kr := keyring(t, key(1))
	flight, hs := dialerFlight(t, kr, "")
	var psks pskCache
	answer, rcs, err := acceptHandshake(nil, flight[helloLen+2:], kr, &psks, flight[:helloLen])
	if err != nil {
		t.Fatal(err)
	}
	scs, err := finishHandshake(bytes.NewReader(answer), hs)
	if err != nil {
		t.Fatal(err)
	}
	wire := &bytes.Buffer{}
	lim := &sessionLimits{rekeyRecords: 3, rekeyBytes: 1000, maxRecords: 1 << 20}
	return newSealer(wire, scs, lim, 64), newOpener(bufio.NewReader(wire), rcs, lim)
}

// Records cross several rekeys, by count and by bytes, and frames larger
// than a record span several; the plaintext comes out unchanged.
func TestRekeyBoundaryCrossing(t *testing.T) {
	s, o := sessionPair(t)
	var rekeys atomic.Uint64
	s.rekeys, o.rekeys = &rekeys, &rekeys
	var frames [][]byte
	for i, size := range []int{1, 100, 999, 1000, 1001, 70000, 3, 200000, 0, 5} {
		f := bytes.Repeat([]byte{byte(i)}, size)
		frames = append(frames, f)
		if err := s.writeFrame(f); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	for i, want := range frames {
		n, err := readUvarint(o)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got, err := readFrame(o, int(n))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, %v", i, len(got), err)
		}
	}
	if s.records != o.records || s.records < 8 {
		t.Fatalf("sealed %d records, opened %d", s.records, o.records)
	}
	if rekeys.Load() < 6 {
		t.Fatalf("only %d rekeys across %d records", rekeys.Load(), s.records)
	}
}

// Rekeying really changes the key: a receiver that rekeys one record late
// cannot open the record after the sender's rekey.
func TestRekeyMismatchFails(t *testing.T) {
	s, o := sessionPair(t)
	o.lim = &sessionLimits{rekeyRecords: 4, rekeyBytes: 1 << 30, maxRecords: 1 << 20}
	s.lim = &sessionLimits{rekeyRecords: 3, rekeyBytes: 1 << 30, maxRecords: 1 << 20}
	for i := 0; i < 4; i++ {
		if err := s.writeFrame([]byte("r")); err != nil {
			t.Fatal(err)
		}
		if err := s.flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := o.next(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := o.next(); !errors.Is(err, errRecordAuth) {
		t.Fatalf("record after a rekey the receiver missed: %v", err)
	}
}

// A session that reaches its record cap refuses more; the transport then
// opens a new session and every frame still arrives in order.
func TestSessionRecordCap(t *testing.T) {
	s, o := sessionPair(t)
	s.lim = &sessionLimits{rekeyRecords: 2, rekeyBytes: 1 << 30, maxRecords: 3}
	o.lim = s.lim
	for i := 0; i < 3; i++ {
		_ = s.writeFrame([]byte("r"))
		if err := s.flush(); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.writeFrame([]byte("r"))
	if err := s.flush(); !errors.Is(err, errSessionExhausted) {
		t.Fatalf("fourth record: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := o.next(); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.next(); !errors.Is(err, errSessionExhausted) {
		t.Fatalf("receiver past the cap: %v", err)
	}

	var got collector
	kr := keyring(t, key(1))
	a, _ := newNode(t, Config{Keyring: kr})
	b, addrB := newNode(t, Config{Keyring: kr, Handler: got.handle})
	lim := sessionLimits{rekeyRecords: 2, rekeyBytes: 1 << 30, maxRecords: 5}
	a.limits, b.limits = lim, lim
	const n = 40
	for i := 0; i < n; i++ {
		if err := a.Send(addrB, seqFrame(0, uint32(i), 10)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	waitFor(t, 10*time.Second, "frames", func() bool { return got.count() == n })
	if err := checkInOrder(got.snapshot(), 1, n); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.ConnsOpened < n/5 || s.Rekeys == 0 || s.SendErrors != 0 {
		t.Fatalf("sender stats %+v", s)
	}
}

func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b < 0x80 {
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
}

// Key rotation while frames flow: a long-lived stream keeps its session
// across every step, and a fresh sender joining at each step (a new
// handshake under the keys installed at that moment) is accepted too.
func TestKeyRotationUnderTraffic(t *testing.T) {
	var got collector
	krA, krB := keyring(t, key(1)), keyring(t, key(1))
	a, _ := newNode(t, Config{Keyring: krA})
	b, addrB := newNode(t, Config{Keyring: krB, Handler: got.handle})

	stop := make(chan struct{})
	var sent atomic.Uint32
	var wg sync.WaitGroup
	var sendErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := uint32(0); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := a.Send(addrB, seqFrame(0, seq, 200)); err != nil {
				sendErr = err
				return
			}
			sent.Add(1)
		}
	}()
	progress := func(stage string) {
		t.Helper()
		at := sent.Load()
		waitFor(t, 10*time.Second, stage+": traffic", func() bool { return sent.Load() > at+50 })
		// A sender with a fresh handshake under the current keys.
		c, _ := newNode(t, Config{Keyring: krA})
		if err := c.Send(addrB, seqFrame(1, 0, 10)); err != nil {
			t.Fatalf("%s: new stream: %v", stage, err)
		}
		_ = c.Shutdown()
	}
	rotateKeys(t, krA, krB, progress)
	close(stop)
	wg.Wait()
	if sendErr != nil {
		t.Fatalf("send during rotation: %v", sendErr)
	}
	n := int(sent.Load())
	waitFor(t, 10*time.Second, "every frame", func() bool { return got.count() == n+4 })
	var main [][]byte
	for _, f := range got.snapshot() {
		if id, _ := parseSeq(f); id == 0 {
			main = append(main, f)
		}
	}
	if err := checkInOrder(main, 1, n); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(); s.DecryptFailures != 0 || s.ConnsAccepted != 5 {
		t.Fatalf("receiver stats %+v", s)
	}
	if s := a.Stats(); s.ConnsOpened != 1 {
		t.Fatalf("the long-lived stream was reopened: %+v", s)
	}
}
