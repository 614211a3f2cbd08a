package faultnet

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is one node of a Network. It implements
// memberlist.NodeAwareTransport; set it as memberlist.Config.Transport.
type Transport struct {
	net      *Network
	addr     string // canonical "ip:port"
	ip       net.IP
	port     int
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	closed   atomic.Bool
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Addr returns the node's "ip:port" address.
func (t *Transport) Addr() string { return t.addr }

// Network returns the network the node belongs to.
func (t *Transport) Network() *Network { return t.net }

func (t *Transport) udpAddr() *net.UDPAddr { return &net.UDPAddr{IP: t.ip, Port: t.port} }
func (t *Transport) tcpAddr() *net.TCPAddr { return &net.TCPAddr{IP: t.ip, Port: t.port} }

// addrOf returns a net.Addr for a possibly unknown "ip:port" string.
func addrOf(addr string) net.Addr {
	ip, port, err := parseAddr(addr)
	if err != nil {
		return stringAddr(addr)
	}
	return &net.TCPAddr{IP: ip, Port: port}
}

type stringAddr string

func (a stringAddr) Network() string { return "faultnet" }
func (a stringAddr) String() string  { return string(a) }

// FinalAdvertiseAddr implements memberlist.Transport. It always advertises
// the node's own address, whatever was configured.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

// WriteTo implements memberlist.Transport. It never blocks: the packet is
// delivered, delayed or dropped according to the network's faults. It fails
// only when this node has been shut down.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.net.sendPacket(t, b, addr)
}

// WriteToAddress implements memberlist.NodeAwareTransport; it routes by
// address only.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// PacketCh implements memberlist.Transport. The channel is never closed.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout implements memberlist.Transport. It returns promptly with an
// error wrapping ErrConnRefused when the peer is unknown, shut down or
// partitioned away; a configured delay is waited for, bounded by timeout
// (zero means no bound).
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.net.dial(t, addr, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport; it routes by
// address only.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// StreamCh implements memberlist.Transport. The channel is never closed.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown implements memberlist.Transport. Packets to the node are dropped
// from now on, dials to it are refused, its open streams are broken and its
// own sends and dials fail. Shutdown is idempotent.
func (t *Transport) Shutdown() error {
	t.net.shutdownNode(t)
	return nil
}

// Closed reports whether Shutdown was called.
func (t *Transport) Closed() bool { return t.closed.Load() }

// String returns the node's address.
func (t *Transport) String() string { return t.addr }
