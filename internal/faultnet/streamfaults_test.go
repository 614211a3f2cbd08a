package faultnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"testing"
	"time"
)

const frameSize = 8

// frame is the i-th record a test writes: its index, big-endian, so that
// the reader can tell which writes arrived, in what order and how often.
func frame(i int) []byte {
	b := make([]byte, frameSize)
	binary.BigEndian.PutUint64(b, uint64(i))
	return b
}

// sendFrames writes count frames, one Write each, on a new stream from a to
// b, closes the writing end and returns everything b read until EOF. Every
// Write must report success.
func sendFrames(t *testing.T, a, b *Transport, count int) []byte {
	t.Helper()
	client, server := dialPair(t, a, b)
	for i := range count {
		if k, err := client.Write(frame(i)); k != frameSize || err != nil {
			t.Fatalf("write %d: %d, %v", i, k, err)
		}
	}
	_ = client.Close()
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got
}

// frames splits b into frame indexes; b must be a whole number of frames.
func frames(t *testing.T, b []byte) []uint64 {
	t.Helper()
	if len(b)%frameSize != 0 {
		t.Fatalf("read %d bytes, not a whole number of frames", len(b))
	}
	out := make([]uint64, 0, len(b)/frameSize)
	for i := 0; i < len(b); i += frameSize {
		out = append(out, binary.BigEndian.Uint64(b[i:]))
	}
	return out
}

// checkRate fails unless hits/total is within 0.03 of want (about five
// standard deviations for the sample sizes used here).
func checkRate(t *testing.T, what string, hits, total uint64, want float64) {
	t.Helper()
	if rate := float64(hits) / float64(total); math.Abs(rate-want) > 0.03 {
		t.Fatalf("%s rate %.3f (%d of %d), want %.2f±0.03", what, rate, hits, total, want)
	}
}

// checkClean sends frames with no stream faults set and requires all of
// them intact and in order, and no fault counted.
func checkClean(t *testing.T, n *Network, a, b *Transport) {
	t.Helper()
	before := n.Stats()
	got := frames(t, sendFrames(t, a, b, 500))
	for i, idx := range got {
		if idx != uint64(i) {
			t.Fatalf("frame %d is %d with faults off", i, idx)
		}
	}
	if len(got) != 500 {
		t.Fatalf("%d frames arrived with faults off, want 500", len(got))
	}
	after := n.Stats()
	after.StreamWrites, after.StreamsOpened = before.StreamWrites, before.StreamsOpened
	if after != before {
		t.Fatalf("faults counted with faults off:\n%+v\n%+v", before, after)
	}
}

const faultWrites = 5000

func TestStreamDropRate(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	checkClean(t, n, a, b)

	n.SetStreamFaults(StreamFaults{Drop: 0.2})
	got := frames(t, sendFrames(t, a, b, faultWrites))
	s := n.Stats()
	if uint64(len(got)) != faultWrites-s.StreamWritesDropped {
		t.Fatalf("%d frames arrived, %d dropped of %d", len(got), s.StreamWritesDropped, faultWrites)
	}
	// What is left is a subsequence of what was written: holes, no reordering.
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("frame %d after frame %d", got[i], got[i-1])
		}
	}
	checkRate(t, "drop", s.StreamWritesDropped, faultWrites, 0.2)

	n.ResetFaults()
	checkClean(t, n, a, b)
}

func TestStreamDuplicateRate(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	checkClean(t, n, a, b)

	n.SetStreamFaults(StreamFaults{Duplicate: 0.3})
	got := frames(t, sendFrames(t, a, b, faultWrites))
	// Every frame arrives once or twice in a row, in order.
	var want, twice uint64
	for i := 0; i < len(got); i++ {
		if got[i] != want {
			t.Fatalf("frame %d is %d, want %d", i, got[i], want)
		}
		if i+1 < len(got) && got[i+1] == want {
			twice++
			i++
		}
		want++
	}
	s := n.Stats()
	if want != faultWrites || twice != s.StreamWritesDuplicated {
		t.Fatalf("%d frames, %d twice; stats %+v", want, twice, s)
	}
	checkRate(t, "duplicate", twice, faultWrites, 0.3)

	n.SetStreamFaults(StreamFaults{})
	checkClean(t, n, a, b)
}

func TestStreamCorruptRate(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	checkClean(t, n, a, b)

	n.SetStreamFaults(StreamFaults{Corrupt: 0.1})
	got := sendFrames(t, a, b, faultWrites)
	if len(got) != faultWrites*frameSize {
		t.Fatalf("read %d bytes, want %d", len(got), faultWrites*frameSize)
	}
	var corrupted uint64
	for i := range faultWrites {
		diff := 0
		for j, c := range frame(i) {
			if got[i*frameSize+j] != c {
				diff++
			}
		}
		switch diff {
		case 0:
		case 1:
			corrupted++
		default:
			t.Fatalf("frame %d has %d altered bytes, want at most 1", i, diff)
		}
	}
	if s := n.Stats(); corrupted != s.StreamWritesCorrupted {
		t.Fatalf("%d frames corrupted, stats %+v", corrupted, s)
	}
	checkRate(t, "corrupt", corrupted, faultWrites, 0.1)

	n.SetStreamFaults(StreamFaults{})
	checkClean(t, n, a, b)
}

func TestStreamDelayKeepsOrder(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	checkClean(t, n, a, b)

	// A jitter far larger than the gap between writes would reorder them
	// if each write were delayed on its own.
	const delay = 50 * time.Millisecond
	n.SetStreamFaults(StreamFaults{Delay: delay, Jitter: 50 * time.Millisecond})
	client, server := dialPair(t, a, b)
	start := time.Now()
	const count = 300
	for i := range count {
		if _, err := client.Write(frame(i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = client.Close()
	first := make([]byte, frameSize)
	if _, err := io.ReadFull(server, first); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < delay {
		t.Fatalf("first bytes readable after %v, want >= %v", el, delay)
	}
	rest, err := io.ReadAll(server)
	if err != nil {
		t.Fatal(err)
	}
	got := frames(t, append(first, rest...))
	for i, idx := range got {
		if idx != uint64(i) {
			t.Fatalf("frame %d is %d: delay reordered the stream", i, idx)
		}
	}
	if len(got) != count {
		t.Fatalf("%d frames, want %d", len(got), count)
	}
	if s := n.Stats(); s.StreamWritesDelayed != count {
		t.Fatalf("stats %+v, want %d delayed writes", s, count)
	}

	// A read deadline shorter than the delay expires with the bytes in flight.
	n.SetStreamFaults(StreamFaults{Delay: time.Hour})
	client, server = dialPair(t, a, b)
	if _, err := client.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	_ = server.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := server.Read(make([]byte, 4)); !isTimeout(err) {
		t.Fatalf("read of delayed bytes: %v, want a timeout", err)
	}

	n.SetStreamFaults(StreamFaults{})
	checkClean(t, n, a, b)
}

func TestStreamCutRate(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	checkClean(t, n, a, b)

	n.SetStreamFaults(StreamFaults{Cut: 0.1})
	const streams = 2000
	var cut uint64
	for range streams {
		client, server := dialPair(t, a, b)
		_, err := client.Write([]byte("x"))
		if err == nil {
			_ = client.Close()
			_ = server.Close()
			continue
		}
		if !errors.Is(err, ErrConnReset) {
			t.Fatalf("write: %v, want nil or ErrConnReset", err)
		}
		cut++
		// Both ends are reset, in both directions.
		if _, err := server.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
			t.Fatalf("server read after cut: %v", err)
		}
		if _, err := server.Write([]byte("y")); !errors.Is(err, ErrConnReset) {
			t.Fatalf("server write after cut: %v", err)
		}
		if _, err := client.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
			t.Fatalf("client read after cut: %v", err)
		}
		_ = client.Close()
		_ = server.Close()
	}
	if s := n.Stats(); s.StreamsCut != cut || s.StreamsBroken != 0 {
		t.Fatalf("%d writes reset, stats %+v", cut, s)
	}
	checkRate(t, "cut", cut, streams, 0.1)

	n.SetStreamFaults(StreamFaults{})
	checkClean(t, n, a, b)
}

func TestCutStreams(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	c := mustTransport(t, n, addrC)
	ab, ba := dialPair(t, a, b)
	ba2, ab2 := dialPair(t, b, a) // dialed the other way
	ac, ca := dialPair(t, a, c)
	_ = ab2

	errCh := make(chan error, 1)
	go func() {
		_, err := ba.Read(make([]byte, 1))
		errCh <- err
	}()
	if _, err := ab.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}

	if got := n.CutStreams(addrB, addrA); got != 2 {
		t.Fatalf("CutStreams cut %d streams, want 2", got)
	}
	select {
	case err := <-errCh:
		// The reader may have taken the bytes before the cut; then the
		// next read must fail.
		if err == nil {
			_, err = ba.Read(make([]byte, 1))
		}
		if !errors.Is(err, ErrConnReset) {
			t.Fatalf("blocked read: %v, want ErrConnReset", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CutStreams did not wake a blocked read")
	}
	for _, conn := range []net.Conn{ab, ba, ba2, ab2} {
		if _, err := conn.Write([]byte("x")); !errors.Is(err, ErrConnReset) {
			t.Fatalf("write on a cut stream: %v", err)
		}
	}
	// The A-C stream is untouched, and new dials work.
	if _, err := ac.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(ca, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	dialPair(t, a, b)

	if got := n.CutAllStreams(); got != 2 {
		t.Fatalf("CutAllStreams cut %d streams, want 2 (A-C and the new A-B)", got)
	}
	if _, err := ca.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
		t.Fatalf("read after CutAllStreams: %v", err)
	}
	if s := n.Stats(); s.StreamsCut != 4 || s.StreamsBroken != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := n.CutAllStreams(); got != 0 {
		t.Fatalf("second CutAllStreams cut %d", got)
	}
}

func TestStallBlocksWriterUntilResumed(t *testing.T) {
	n := newTestNetwork(t)
	n.SetStreamBuffer(16)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	client, server := dialPair(t, a, b)

	n.StallStreams(addrA, addrB)
	// Writes queue while there is room.
	if _, err := client.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	// Nothing reaches the reader.
	_ = server.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := server.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read on a stalled stream: %v, want a timeout", err)
	}
	_ = server.SetReadDeadline(time.Time{})
	// A full buffer blocks the writer until its deadline.
	_ = client.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	if k, err := client.Write([]byte("abcdefghij")); k != 6 || !isTimeout(err) {
		t.Fatalf("write on a full stalled stream: %d, %v; want 6 bytes and a timeout", k, err)
	}
	_ = client.SetWriteDeadline(time.Time{})
	// The other direction flows.
	if _, err := server.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}

	// A writer without a deadline blocks until ResumeStreams.
	done := make(chan error, 1)
	go func() {
		_, err := client.Write([]byte("KLMNOPQRSTUVWXYZ"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("write on a full stalled stream returned %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	n.ResumeStreams(addrA, addrB)
	want := "0123456789abcdefKLMNOPQRSTUVWXYZ"
	got := make([]byte, len(want))
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(server, got); err != nil || string(got) != want {
		t.Fatalf("after resume read %q, %v; want %q", got, err, want)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("blocked write after resume: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ResumeStreams did not release the writer")
	}

	// A stall covers streams dialed later; Heal ends it.
	n.StallStreams(addrA, addrB)
	c2, s2 := dialPair(t, a, b)
	if _, err := c2.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = s2.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := s2.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read on a stream dialed into a stall: %v, want a timeout", err)
	}
	n.Heal()
	_ = s2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(s2, make([]byte, 1)); err != nil {
		t.Fatalf("read after Heal: %v", err)
	}
	if s := n.Stats(); s.StreamWritesStalled != 4 {
		t.Fatalf("stats %+v, want 4 stalled writes", s)
	}
}

func TestDialRefuseRate(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetStreamFaults(StreamFaults{Refuse: 0.25})

	const dials = 2000
	var refused uint64
	for range dials {
		conn, err := a.DialTimeout(addrB, time.Second)
		if err != nil {
			if !errors.Is(err, ErrConnRefused) {
				t.Fatalf("dial: %v", err)
			}
			refused++
			continue
		}
		_ = conn.Close()
		_ = (<-b.StreamCh()).Close()
	}
	s := n.Stats()
	if s.StreamsRefusedByRate != refused || s.StreamsRefused != refused {
		t.Fatalf("%d refused, stats %+v", refused, s)
	}
	checkRate(t, "refuse", refused, dials, 0.25)

	// A link setting replaces the global one for its direction only.
	n.SetStreamFaults(StreamFaults{Refuse: 1})
	n.SetLinkStreamFaults(addrA, addrB, StreamFaults{})
	dialPair(t, a, b)
	if _, err := b.DialTimeout(addrA, time.Second); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("dial B -> A under a global refuse rate of 1: %v", err)
	}
	n.ClearLinkFaults(addrA, addrB)
	if _, err := a.DialTimeout(addrB, time.Second); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("dial A -> B after ClearLinkFaults: %v", err)
	}
}

func TestLinkStreamFaultsApplyToOneDirection(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetLinkStreamFaults(addrB, addrA, StreamFaults{Drop: 1})
	// A stream dialed by A carries A -> B intact and drops B -> A.
	client, server := dialPair(t, a, b)
	if _, err := client.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if k, err := server.Write([]byte("ba")); k != 2 || err != nil {
		t.Fatalf("dropped write: %d, %v; want success", k, err)
	}
	_ = client.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := client.Read(make([]byte, 2)); !isTimeout(err) {
		t.Fatalf("B -> A bytes arrived despite Drop 1: %v", err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ab" {
		t.Fatalf("A -> B read %q, %v", buf, err)
	}
	if s := n.Stats(); s.StreamWritesDropped != 1 {
		t.Fatalf("stats %+v, want 1 dropped write", s)
	}
}

func TestStreamFaultsAreReproducible(t *testing.T) {
	run := func() ([]byte, Stats) {
		n := NewNetworkWithSeed(42)
		defer n.Close()
		a := mustTransport(t, n, addrA)
		b := mustTransport(t, n, addrB)
		n.SetStreamFaults(StreamFaults{Drop: 0.2, Duplicate: 0.2, Corrupt: 0.2, Jitter: time.Millisecond})
		return sendFrames(t, a, b, 1000), n.Stats()
	}
	b1, s1 := run()
	b2, s2 := run()
	if !bytes.Equal(b1, b2) || s1 != s2 {
		t.Fatalf("same seed, different outcomes:\n%+v\n%+v", s1, s2)
	}
}

func TestCloseReleasesBlockedStreams(t *testing.T) {
	n := NewNetworkWithSeed(3)
	n.SetStreamBuffer(4)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	stalledW, _ := dialPair(t, a, b)
	delayedR, delayedW := dialPair(t, a, b)

	n.StallStreams(addrA, addrB)
	n.SetLinkStreamFaults(addrB, addrA, StreamFaults{Delay: time.Hour})
	if _, err := delayedW.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}

	errs := make(chan error, 2)
	go func() { // blocks on the full stalled buffer
		_, err := stalledW.Write([]byte("too much for four bytes"))
		errs <- err
	}()
	go func() { // blocks on bytes delayed by an hour
		_, err := delayedR.Read(make([]byte, 1))
		errs <- err
	}()
	waitFor(t, 5*time.Second, func() bool { return n.Stats().StreamWritesStalled == 1 })
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrConnReset) {
				t.Fatalf("blocked operation after Close: %v, want ErrConnReset", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release a blocked stream operation")
		}
	}
	// goleak (TestMain) checks that no timer or goroutine is left.
}

func TestConcurrentStreamFaultChanges(t *testing.T) {
	n := newTestNetwork(t)
	n.SetStreamBuffer(64)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // accept and drain every stream B gets
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case c := <-b.StreamCh():
				go func() {
					_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
					_, _ = io.Copy(io.Discard, c)
					_ = c.Close()
				}()
			}
		}
	}()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := a.DialTimeout(addrB, time.Second)
			if err != nil {
				continue
			}
			_ = c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
			for i := range 20 {
				if _, err := c.Write(frame(i)); err != nil {
					break
				}
			}
			_ = c.Close()
		}
	}()
	waitFor(t, 5*time.Second, func() bool { return n.Stats().StreamWrites > 100 })
	for i := range 50 {
		n.SetStreamFaults(StreamFaults{Drop: 0.1, Duplicate: 0.1, Corrupt: 0.1, Cut: 0.02, Refuse: 0.1, Jitter: time.Millisecond})
		n.SetLinkStreamFaults(addrA, addrB, StreamFaults{Delay: time.Duration(i%3) * time.Millisecond})
		n.StallStreams(addrA, addrB)
		n.CutStreams(addrA, addrB)
		n.ResumeStreams(addrA, addrB)
		if i%10 == 0 {
			n.CutAllStreams()
		}
		n.ClearLinkFaults(addrA, addrB)
		_ = n.Stats()
	}
	close(stop)
	<-writerDone
	<-done
	_ = n.Close() // ends the readers still copying
}
