package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// quietLog discards memberlist's own logging.
var quietLog = log.New(io.Discard, "", 0)

// errKilled is returned by dials of a killed node.
var errKilled = errors.New("bench: node killed")

// ctlTransport is memberlist's NetTransport on 127.0.0.1 with two switches
// the scenarios need and neither side can do on its own: kill (the node
// goes silent, as if its process had crashed, while its sockets stay
// bound) and a packet loss rate on outgoing UDP. Both sides of every
// comparison run on it, so the switches cost both the same.
type ctlTransport struct {
	*memberlist.NetTransport
	dead    atomic.Bool
	lossPPM atomic.Uint32 // outgoing packets dropped per million
	// wrapConn, when set, wraps every connection this node dials (the
	// push/pull figure counts bytes with it).
	wrapConn atomic.Pointer[func(net.Conn) net.Conn]
	streamCh chan net.Conn
	stop     chan struct{} // closed when Shutdown starts: relay only drains
	drained  chan struct{} // closed once the NetTransport is down: relay exits
	stopOnce sync.Once
}

var _ memberlist.NodeAwareTransport = (*ctlTransport)(nil)

// newCtlTransport binds a NetTransport on a free loopback port.
func newCtlTransport() (*ctlTransport, error) {
	cfg := &memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, Logger: quietLog}
	var nt *memberlist.NetTransport
	var err error
	for range 10 {
		if nt, err = memberlist.NewNetTransport(cfg); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bind 127.0.0.1:0: %w", err)
	}
	t := &ctlTransport{NetTransport: nt, streamCh: make(chan net.Conn), stop: make(chan struct{}), drained: make(chan struct{})}
	go t.relay()
	return t, nil
}

// Addr is the bound "127.0.0.1:port".
func (t *ctlTransport) Addr() string { return fmt.Sprintf("127.0.0.1:%d", t.GetAutoBindPort()) }

// Kill makes the node silent: packets out are dropped, dials fail and
// inbound connections are closed.
func (t *ctlTransport) Kill() { t.dead.Store(true) }

// SetLoss sets the outgoing packet loss rate (0..1).
func (t *ctlTransport) SetLoss(rate float64) { t.lossPPM.Store(uint32(rate * 1e6)) }

func (t *ctlTransport) drop() bool {
	if t.dead.Load() {
		return true
	}
	ppm := t.lossPPM.Load()
	return ppm > 0 && rand.Uint32N(1_000_000) < ppm
}

// WriteTo drops the packet when killed or lost.
func (t *ctlTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.drop() {
		return time.Now(), nil
	}
	return t.NetTransport.WriteTo(b, addr)
}

// WriteToAddress drops the packet when killed or lost.
func (t *ctlTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.drop() {
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

// DialTimeout fails once killed.
func (t *ctlTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.dead.Load() {
		return nil, errKilled
	}
	return t.wrap(t.NetTransport.DialTimeout(addr, timeout))
}

// wrap applies wrapConn to a dialled connection.
func (t *ctlTransport) wrap(c net.Conn, err error) (net.Conn, error) {
	if f := t.wrapConn.Load(); f != nil && err == nil {
		return (*f)(c), nil
	}
	return c, err
}

// DialAddressTimeout fails once killed.
func (t *ctlTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.dead.Load() {
		return nil, errKilled
	}
	return t.wrap(t.NetTransport.DialAddressTimeout(a, timeout))
}

// StreamCh delivers inbound connections while the node is not killed.
func (t *ctlTransport) StreamCh() <-chan net.Conn { return t.streamCh }

func (t *ctlTransport) relay() {
	in := t.NetTransport.StreamCh()
	for {
		select {
		case c := <-in:
			if t.dead.Load() {
				_ = c.Close()
				continue
			}
			select {
			case t.streamCh <- c:
			case <-t.stop:
				_ = c.Close()
			}
		case <-t.stop:
			// Keep taking connections until the NetTransport is down: its
			// accept loop blocks on this channel and Shutdown waits for it.
			for {
				select {
				case c := <-in:
					_ = c.Close()
				case <-t.drained:
					return
				}
			}
		}
	}
}

// Shutdown stops the NetTransport, draining its connections meanwhile.
func (t *ctlTransport) Shutdown() error {
	var err error
	t.stopOnce.Do(func() {
		close(t.stop)
		err = t.NetTransport.Shutdown()
		close(t.drained)
	})
	return err
}
