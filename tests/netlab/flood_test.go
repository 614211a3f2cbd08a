package netlab

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// memberlistUserMsg is memberlist's messageType for user messages (net.go):
// the datagram's first byte, after which memberlist hands the rest to the
// delegate's NotifyMsg unauthenticated when no key is set.
const memberlistUserMsg = 8

// The engine's envelope (engine/envelope.go): version byte, flags, message
// type (big endian), then uvarint-prefixed sender, stream, seq, destination
// instance, uvarint-prefixed tag, payload.
const envelopeVersion = 0xE1

// forgedTypes are engine message types a stranger might forge: metadata
// update and pull, push/pull state, key rotation, request/reply and
// election messages, and a user type.
var forgedTypes = []int{1, 2, 3, 16, 17, 40, 41, 42, 43, 44, 128}

// forgedEnvelope is an envelope from a made-up sender, of msgType, with a
// random payload.
func forgedEnvelope(r *rand.Rand, msgType int) []byte {
	sender := fmt.Sprintf("ghost-%d", r.IntN(1000))
	b := []byte{memberlistUserMsg, envelopeVersion, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(msgType))
	b = binary.AppendUvarint(b, uint64(len(sender)))
	b = append(b, sender...)
	b = binary.AppendUvarint(b, 0) // stream
	b = binary.AppendUvarint(b, 0) // seq
	b = binary.AppendUvarint(b, 0) // any instance
	b = binary.AppendUvarint(b, 0) // no tag
	return append(b, randomBytes(r, r.IntN(64))...)
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// flood sends forged envelopes and plain garbage to target, about 50,000
// datagrams a second, until killed. Errors of a single send (nobody
// listening while the node restarts) are expected and ignored.
func flood(target string) error {
	conn, err := net.Dial("udp4", target)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; ; i++ {
		var pkt []byte
		switch i % 4 {
		case 3:
			pkt = randomBytes(r, 1+r.IntN(512))
		default:
			pkt = forgedEnvelope(r, forgedTypes[r.IntN(len(forgedTypes))])
		}
		_, _ = conn.Write(pkt)
		if i%50 == 49 {
			time.Sleep(time.Millisecond)
		}
	}
}
