package streams

import (
	"net"

	"github.com/hashicorp/memberlist"
)

// Filters let the application refuse traffic meant for memberlist before
// memberlist sees it, so that it learns of the refusal (and can count it)
// from the refusal itself rather than from memberlist's log.

// PacketFilter reports whether an inbound packet may go on to memberlist.
// It runs on one goroutine, in arrival order, so it must be quick; it must
// not retain or modify the packet.
type PacketFilter func(p *memberlist.Packet) bool

// ForwardFilter vets an inbound connection that is not a stream of this
// package before it is handed to memberlist. peeked holds the bytes read so
// far; the filter may read more (the connection's read deadline, the peek
// timeout, still runs) and returns every byte it has consumed, peeked
// included, to be replayed to memberlist. An error closes the connection.
// It runs on the connection's own goroutine, with the connection counted
// against the inbound caps.
type ForwardFilter func(c net.Conn, peeked []byte) ([]byte, error)

// filterPackets forwards the inner transport's packets that pass the
// filter to packetCh until the inner transport has shut down.
func (t *Transport) filterPackets() {
	in := t.inner.PacketCh()
	for {
		select {
		case p := <-in:
			if !t.cfg.PacketFilter(p) {
				t.stats.packetsFiltered.Add(1)
				continue
			}
			select {
			case t.filtered <- p:
			case <-t.demuxStop:
				return
			}
		case <-t.demuxStop:
			return
		}
	}
}
