package faultnet

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	addrA = "10.0.0.1:7946"
	addrB = "10.0.0.2:7946"
	addrC = "10.0.0.3:7946"
)

// recv returns the next packet of tr, failing the test after timeout.
func recv(t *testing.T, tr *Transport, timeout time.Duration) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p
	case <-time.After(timeout):
		t.Fatalf("no packet for %s within %v", tr.Addr(), timeout)
		return nil
	}
}

// drain empties tr's packet channel and returns how many packets it held.
func drain(tr *Transport) int {
	count := 0
	for {
		select {
		case <-tr.PacketCh():
			count++
		default:
			return count
		}
	}
}

func TestPacketDelivery(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)

	msg := []byte("hello")
	ts, err := a.WriteTo(msg, addrB)
	if err != nil {
		t.Fatal(err)
	}
	if ts.IsZero() {
		t.Fatal("WriteTo returned a zero timestamp")
	}
	msg[0] = 'X' // the network must have copied the payload

	p := recv(t, b, time.Second)
	if string(p.Buf) != "hello" {
		t.Fatalf("payload %q, want %q", p.Buf, "hello")
	}
	if p.From.String() != addrA {
		t.Fatalf("From %v, want %s", p.From, addrA)
	}
	if p.Timestamp.IsZero() {
		t.Fatal("zero packet timestamp")
	}

	if _, err := b.WriteToAddress([]byte("back"), memberlist.Address{Addr: addrA, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, a, time.Second); string(p.Buf) != "back" {
		t.Fatalf("payload %q, want %q", p.Buf, "back")
	}

	s := n.Stats()
	if s.PacketsSent != 2 || s.PacketsDelivered != 2 || s.PacketsDropped() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFinalAdvertiseAddr(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	ip, port, err := a.FinalAdvertiseAddr("", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !ip.Equal(net.ParseIP("10.0.0.1")) || port != 7946 {
		t.Fatalf("got %v:%d", ip, port)
	}
}

func TestNewTransportErrors(t *testing.T) {
	n := newTestNetwork(t)
	mustTransport(t, n, addrA)
	for _, bad := range []string{"node-a:7946", "10.0.0.9", "10.0.0.9:99999"} {
		if _, err := n.NewTransport(bad); err == nil {
			t.Errorf("NewTransport(%q) succeeded", bad)
		}
	}
	if _, err := n.NewTransport(addrA); err == nil {
		t.Error("duplicate address accepted")
	}
}

func TestNewTransportAuto(t *testing.T) {
	n := newTestNetwork(t)
	mustTransport(t, n, "127.0.0.2:7946") // taken: the generator must skip it
	seen := map[string]bool{}
	for range 300 {
		tr, err := n.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		if seen[tr.Addr()] || tr.Addr() == "127.0.0.2:7946" {
			t.Fatalf("address %s handed out twice", tr.Addr())
		}
		seen[tr.Addr()] = true
	}
	if !seen["127.0.0.1:7946"] || !seen["127.0.1.45:7946"] {
		t.Fatalf("unexpected address sequence: %v", seen)
	}
}

func TestRestartAtSameAddress(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	b2 := mustTransport(t, n, addrB)
	if _, err := a.WriteTo([]byte("x"), addrB); err != nil {
		t.Fatal(err)
	}
	recv(t, b2, time.Second)
}

func TestLossRate(t *testing.T) {
	n := newTestNetwork(t)
	n.SetPacketBuffer(10000)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetLoss(0.2)

	const total = 5000
	for range total {
		if _, err := a.WriteTo([]byte("p"), addrB); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(b)
	s := n.Stats()
	if s.PacketsSent != total || s.DroppedLoss+s.PacketsDelivered != total || uint64(got) != s.PacketsDelivered {
		t.Fatalf("inconsistent accounting: got %d, stats %+v", got, s)
	}
	// Binomial(5000, 0.2): sd ~ 28; allow ~5 sd.
	if rate := float64(s.DroppedLoss) / total; math.Abs(rate-0.2) > 0.03 {
		t.Fatalf("loss rate %.3f, want 0.2±0.03", rate)
	}
}

func TestLinkLossOverridesGlobal(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	c := mustTransport(t, n, addrC)
	n.SetLoss(1)
	n.SetLinkLoss(addrA, addrB, 0) // only A -> B works

	for range 100 {
		_, _ = a.WriteTo([]byte("p"), addrB)
		_, _ = a.WriteTo([]byte("p"), addrC)
		_, _ = b.WriteTo([]byte("p"), addrA)
	}
	if got := drain(b); got != 100 {
		t.Fatalf("B got %d packets, want 100", got)
	}
	if got := drain(c) + drain(a); got != 0 {
		t.Fatalf("lossy links delivered %d packets", got)
	}

	n.ClearLinkFaults(addrA, addrB)
	_, _ = a.WriteTo([]byte("p"), addrB)
	if got := drain(b); got != 0 {
		t.Fatal("cleared link should follow the global loss of 1")
	}
	n.ResetFaults()
	_, _ = a.WriteTo([]byte("p"), addrB)
	recv(t, b, time.Second)
}

func TestSeedIsReproducible(t *testing.T) {
	run := func() Stats {
		n := NewNetworkWithSeed(42)
		defer n.Close()
		n.SetPacketBuffer(2000)
		a := mustTransport(t, n, addrA)
		mustTransport(t, n, addrB)
		n.SetLoss(0.3)
		n.SetDuplicate(0.3)
		for range 1000 {
			_, _ = a.WriteTo([]byte("p"), addrB)
		}
		return n.Stats()
	}
	if s1, s2 := run(), run(); s1 != s2 {
		t.Fatalf("same seed, different outcomes:\n%+v\n%+v", s1, s2)
	}
}

func TestDuplicate(t *testing.T) {
	n := newTestNetwork(t)
	n.SetPacketBuffer(1000)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetDuplicate(1)
	for range 100 {
		_, _ = a.WriteTo([]byte("p"), addrB)
	}
	if got := drain(b); got != 200 {
		t.Fatalf("got %d packets, want 200", got)
	}
	if s := n.Stats(); s.PacketsDuplicated != 100 || s.PacketsDelivered != 200 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDelayDoesNotBlockSender(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetDelay(100*time.Millisecond, 20*time.Millisecond)

	start := time.Now()
	for range 10 {
		if _, err := a.WriteTo([]byte("p"), addrB); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Fatalf("sender blocked for %v", el)
	}
	if got := drain(b); got != 0 {
		t.Fatalf("%d packets arrived before the delay", got)
	}
	total := 0
	waitFor(t, 2*time.Second, func() bool { total += drain(b); return total == 10 })
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("packets arrived after %v, want >= 100ms", el)
	}

	// A link override applies to that direction only.
	n.SetDelay(0, 0)
	n.SetLinkDelay(addrA, addrB, time.Hour, 0)
	_, _ = a.WriteTo([]byte("late"), addrB)
	_, _ = b.WriteTo([]byte("now"), addrA)
	recv(t, a, time.Second)
	if got := drain(b); got != 0 {
		t.Fatal("overridden link delivered immediately")
	}
	// Network.Close (in cleanup) discards the packet still in flight.
}

func TestDelayedPacketDoesNotCrossLaterPartition(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetDelay(50*time.Millisecond, 0)
	_, _ = a.WriteTo([]byte("p"), addrB)
	n.Partition([]string{addrA}, []string{addrB})
	waitFor(t, 2*time.Second, func() bool { return n.Stats().DroppedPartition == 1 })
	if got := drain(b); got != 0 {
		t.Fatal("delayed packet crossed the partition")
	}
}

func TestFullBufferDropsWithoutBlocking(t *testing.T) {
	n := newTestNetwork(t)
	n.SetPacketBuffer(4)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			_, _ = a.WriteTo([]byte("p"), addrB)
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("sender blocked on a full receiver")
	}
	if got := drain(b); got != 4 {
		t.Fatalf("got %d, want 4", got)
	}
	if s := n.Stats(); s.DroppedFull != 6 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPacketsToClosedOrUnknownNode(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo([]byte("p"), addrB); err != nil {
		t.Fatalf("UDP-like send to a dead node should not fail: %v", err)
	}
	if _, err := a.WriteTo([]byte("p"), "10.9.9.9:1"); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.DroppedClosed != 2 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := b.WriteTo([]byte("p"), addrA); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send from a shut down node: %v", err)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	c := mustTransport(t, n, addrC)

	n.Partition([]string{addrA}, []string{addrB, addrC})
	for _, pair := range [][2]*Transport{{a, b}, {b, a}, {a, c}, {c, a}} {
		_, _ = pair[0].WriteTo([]byte("p"), pair[1].Addr())
		if _, err := pair[0].DialTimeout(pair[1].Addr(), time.Second); !errors.Is(err, ErrConnRefused) {
			t.Fatalf("dial %s -> %s across partition: %v", pair[0], pair[1], err)
		}
	}
	if got := drain(a) + drain(b) + drain(c); got != 0 {
		t.Fatalf("%d packets crossed the partition", got)
	}
	// Inside a group traffic flows.
	_, _ = b.WriteTo([]byte("p"), addrC)
	recv(t, c, time.Second)

	s := n.Stats()
	if s.DroppedPartition != 4 || s.StreamsRefused != 4 {
		t.Fatalf("stats %+v", s)
	}

	n.Heal()
	for _, pair := range [][2]*Transport{{a, b}, {b, a}, {a, c}, {c, a}} {
		_, _ = pair[0].WriteTo([]byte("p"), pair[1].Addr())
		recv(t, pair[1], time.Second)
		conn, err := pair[0].DialTimeout(pair[1].Addr(), time.Second)
		if err != nil {
			t.Fatalf("dial after heal: %v", err)
		}
		_ = conn.Close()
		srv := <-pair[1].StreamCh()
		_ = srv.Close()
	}
}

func TestBlockLinkIsOneWayForPackets(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.BlockLink(addrA, addrB)
	_, _ = a.WriteTo([]byte("p"), addrB)
	_, _ = b.WriteTo([]byte("p"), addrA)
	recv(t, a, time.Second)
	if drain(b) != 0 {
		t.Fatal("blocked direction delivered")
	}
	if _, err := b.DialTimeout(addrA, time.Second); !errors.Is(err, ErrConnRefused) {
		t.Fatalf("stream over a half-blocked link: %v", err)
	}
}

func TestIsolate(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	c := mustTransport(t, n, addrC)
	n.Isolate(addrA)
	_, _ = a.WriteTo([]byte("p"), addrB)
	_, _ = c.WriteTo([]byte("p"), addrA)
	_, _ = c.WriteTo([]byte("p"), addrB)
	recv(t, b, time.Second)
	if drain(a)+drain(b) != 0 {
		t.Fatal("isolated node exchanged packets")
	}
}

// dialPair opens a stream from -> to and returns both ends.
func dialPair(t *testing.T, from, to *Transport) (client, server net.Conn) {
	t.Helper()
	client, err := from.DialTimeout(to.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case server = <-to.StreamCh():
	case <-time.After(time.Second):
		t.Fatal("no accepted stream")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

func TestStreamReadWrite(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	client, server := dialPair(t, a, b)

	if client.LocalAddr().String() != addrA || client.RemoteAddr().String() != addrB {
		t.Fatalf("client addrs %v -> %v", client.LocalAddr(), client.RemoteAddr())
	}
	if server.RemoteAddr().String() != addrA || server.LocalAddr().String() != addrB {
		t.Fatalf("server addrs %v -> %v", server.LocalAddr(), server.RemoteAddr())
	}

	// Writes are buffered: both sides may write before either reads.
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v", buf, err)
	}

	// A large transfer larger than the buffer, read concurrently.
	payload := bytes.Repeat([]byte("0123456789"), 300_000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := client.Write(payload); err != nil {
			t.Error(err)
		}
		_ = client.Close()
	}()
	got, err := io.ReadAll(server)
	wg.Wait()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}

	// The peer has closed: writing fails, local ops report net.ErrClosed.
	if _, err := server.Write([]byte("x")); err == nil {
		t.Fatal("write to a closed peer succeeded")
	}
	if _, err := client.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on closed conn: %v", err)
	}
	if n.Stats().StreamsOpened != 1 {
		t.Fatalf("stats %+v", n.Stats())
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func TestStreamDeadlines(t *testing.T) {
	n := newTestNetwork(t)
	n.SetStreamBuffer(8)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	client, server := dialPair(t, a, b)

	// Read deadline in the future: the blocked read times out.
	start := time.Now()
	_ = server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 8)
	if _, err := server.Read(buf); !isTimeout(err) {
		t.Fatalf("read: %v, want a timeout", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
		t.Fatalf("read timed out after %v", el)
	}

	// Clearing the deadline makes reads work again.
	_ = server.SetReadDeadline(time.Time{})
	_, _ = client.Write([]byte("hi"))
	if k, err := server.Read(buf); err != nil || string(buf[:k]) != "hi" {
		t.Fatalf("read after clearing the deadline: %q, %v", buf[:k], err)
	}

	// A deadline set while a read is blocked wakes it.
	errCh := make(chan error, 1)
	go func() {
		_, err := server.Read(buf)
		errCh <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the reader block; the result does not depend on it
	_ = server.SetDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-errCh:
		if !isTimeout(err) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("past deadline did not wake the blocked read")
	}
	_ = server.SetDeadline(time.Time{})

	// Write deadline: the buffer holds 8 bytes, the rest blocks and times out.
	_ = client.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	k, err := client.Write(make([]byte, 20))
	if !isTimeout(err) || k != 8 {
		t.Fatalf("write: %d, %v; want 8 bytes and a timeout", k, err)
	}
}

func TestDialUnknownOrShutdownFailsPromptly(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{addrB, "10.9.9.9:7946"} {
		start := time.Now()
		_, err := a.DialTimeout(addr, 10*time.Second)
		if !errors.Is(err, ErrConnRefused) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		if el := time.Since(start); el > 100*time.Millisecond {
			t.Fatalf("dial %s took %v", addr, el)
		}
	}
	if _, err := b.DialTimeout(addrA, time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("dial from shut down node: %v", err)
	}
}

func TestDialDelayAndTimeout(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	n.SetDelay(60*time.Millisecond, 0)
	start := time.Now()
	client, server := dialPair(t, a, b)
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("dial took %v, want >= 60ms", el)
	}
	_, _ = client, server

	n.SetDelay(time.Hour, 0)
	start = time.Now()
	if _, err := a.DialTimeout(addrB, 30*time.Millisecond); !isTimeout(err) {
		t.Fatalf("dial: %v, want a timeout", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("dial timeout took %v", el)
	}
}

func TestShutdownBreaksStreams(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	client, server := dialPair(t, a, b)

	// A stream dialed but not yet accepted.
	pending, err := a.DialTimeout(addrB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()

	errCh := make(chan error, 1)
	go func() {
		_, err := client.Read(make([]byte, 1))
		errCh <- err
	}()

	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(); err != nil { // idempotent
		t.Fatal(err)
	}
	if !b.Closed() {
		t.Fatal("Closed() = false after Shutdown")
	}

	select {
	case err := <-errCh:
		if !errors.Is(err, ErrConnReset) {
			t.Fatalf("blocked read: %v, want ErrConnReset", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked read not woken by Shutdown")
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, ErrConnReset) {
		t.Fatalf("server write: %v", err)
	}
	if _, err := pending.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on a never-accepted stream of a shut down node succeeded")
	}
	if s := n.Stats(); s.StreamsBroken != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPartitionBreaksExistingStreams(t *testing.T) {
	n := newTestNetwork(t)
	a := mustTransport(t, n, addrA)
	b := mustTransport(t, n, addrB)
	c := mustTransport(t, n, addrC)
	ab, ba := dialPair(t, a, b)
	bc, cb := dialPair(t, b, c)

	n.Partition([]string{addrA}, []string{addrB, addrC})
	if _, err := ab.Write([]byte("x")); !errors.Is(err, ErrConnReset) {
		t.Fatalf("write across partition: %v", err)
	}
	if _, err := ba.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
		t.Fatalf("read across partition: %v", err)
	}
	// The B-C stream is inside one group and survives.
	if _, err := bc.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(cb, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	n.Heal()
	if _, err := ab.Write([]byte("x")); !errors.Is(err, ErrConnReset) {
		t.Fatal("a broken stream must stay broken after Heal")
	}
}

func TestNetworkClose(t *testing.T) {
	n := NewNetworkWithSeed(7)
	a := mustTransport(t, n, addrA)
	mustTransport(t, n, addrB)
	n.SetDelay(time.Hour, 0)
	for range 10 {
		_, _ = a.WriteTo([]byte("p"), addrB)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if !a.Closed() {
		t.Fatal("Close did not shut down the nodes")
	}
	if _, err := n.NewTransport(addrC); !errors.Is(err, ErrNetworkClosed) {
		t.Fatalf("NewTransport after Close: %v", err)
	}
}

func TestConcurrentFaultChanges(t *testing.T) {
	n := newTestNetwork(t)
	nodes := make([]*Transport, 4)
	for i := range nodes {
		tr, err := n.NewTransportAuto()
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = tr
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, tr := range nodes {
		wg.Add(2)
		go func() { // sender
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				dst := nodes[(i+1+k%3)%len(nodes)]
				_, _ = tr.WriteTo([]byte("p"), dst.Addr())
				if c, err := tr.DialTimeout(dst.Addr(), time.Second); err == nil {
					_, _ = c.Write([]byte("s"))
					_ = c.Close()
				}
			}
		}()
		go func() { // receiver
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-tr.PacketCh():
				case c := <-tr.StreamCh():
					_ = c.Close()
				}
			}
		}()
	}
	waitFor(t, 5*time.Second, func() bool { return n.Stats().PacketsSent > 100 })
	for i := range 50 {
		n.SetLoss(float64(i%5) / 10)
		n.SetDuplicate(0.1)
		n.SetDelay(time.Duration(i%3)*time.Millisecond, time.Millisecond)
		n.SetLinkLoss(nodes[0].Addr(), nodes[1].Addr(), 0.5)
		n.Partition([]string{nodes[0].Addr(), nodes[1].Addr()}, []string{nodes[2].Addr(), nodes[3].Addr()})
		_ = n.Stats()
		n.Heal()
	}
	close(stop)
	wg.Wait()
}
