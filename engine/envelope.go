package engine

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/scriptling-contrib/gossip/internal/codec"
)

// Every engine message (user messages, metadata broadcasts, push/pull
// state) travels in an envelope, because memberlist hands NotifyMsg only
// bytes: no sender, no ordering. Layout:
//
//	[0]     envelopeVersion
//	[1]     flags (envReliable, envCompressed, envMAC)
//	[2:4]   message type, big endian
//	uvarint len + sender node id
//	session          (reliable: 16 bytes; otherwise uvarint 0)
//	uvarint seq      (reliable only; 0 otherwise)
//	uvarint instance of the destination the message was meant for (0: any)
//	uvarint len + tag (SendTagged; empty otherwise)
//	payload          (codec value, Snappy-compressed when envCompressed)
//	macLen bytes     (HMAC of everything before it, when envMAC)

const (
	envelopeVersion = 0xE1
	envReliable     = 1 << 0
	envCompressed   = 1 << 1
	envMAC          = 1 << 2
)

// Internal message types, below MinUserMessageType.
const (
	msgMetaUpdate = 1 // one node's full metadata: owner, version, map
	msgMetaPull   = 2 // ask the receiver to send its metadata
	msgState      = 3 // push/pull state: all metadata entries known
	// 16 and 17: key rotation requests and replies (keys.go)
	// 40 and 41: request/reply (request.go)
	// 64 to 127: feature channels (channels.go)
)

var errBadEnvelope = errors.New("malformed envelope")

// envelope is a decoded (or to-be-encoded) message.
type envelope struct {
	flags    byte
	msgType  int
	sender   string
	session  sessionID // reliable only: the sender's session for this destination run
	seq      uint64
	dest     uint64
	tag      string
	payload  []byte // as on the wire (possibly compressed)
	raw      []byte // the whole envelope as received
	reliable bool
}

// encodeEnvelope serialises e, appending a MAC when key is set.
func encodeEnvelope(e *envelope, key []byte) []byte {
	return encodeEnvelopeInto(make([]byte, 0, 32+len(e.sender)+len(e.tag)+len(e.payload)+macLen), e, key)
}

// encodeEnvelopeInto is encodeEnvelope writing into buf's space (from
// buf[:0]: the MAC covers everything in the result).
func encodeEnvelopeInto(buf []byte, e *envelope, key []byte) []byte {
	b := buf[:0]
	flags := e.flags
	if e.reliable {
		flags |= envReliable
	}
	if key != nil {
		flags |= envMAC
	}
	b = append(b, envelopeVersion, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(e.msgType))
	b = appendString(b, e.sender)
	if e.reliable {
		b = append(b, e.session[:]...)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, e.seq)
	b = binary.AppendUvarint(b, e.dest)
	b = appendString(b, e.tag)
	b = append(b, e.payload...)
	if key != nil {
		b = append(b, envelopeMAC(key, b)...)
	}
	return b
}

// envelopeOverhead bounds the bytes an envelope from sender adds to its
// payload (header, varints, MAC).
func envelopeOverhead(sender string) int {
	return 4 + sessionIDLen + binary.MaxVarintLen64*4 + len(sender) + macLen
}

// errAuth marks an envelope that failed the token check.
var errAuth = errors.New("envelope failed authentication")

// decodeEnvelope parses b (which it does not copy) and checks its MAC
// against key; with a nil key MACs are ignored.
func decodeEnvelope(b []byte, key []byte) (*envelope, error) {
	e := new(envelope)
	if err := e.decode(b, key); err != nil {
		return nil, err
	}
	return e, nil
}

// decode is decodeEnvelope into e, which the stream receive path keeps on
// its stack: one allocation less per message.
func (e *envelope) decode(b []byte, key []byte) error {
	return e.decodeNamed(b, key, nil)
}

// decodeNamed is decode taking the sender's id from known when it knows
// the name (see receiverTable.knownSender), else copying it from b.
func (e *envelope) decodeNamed(b []byte, key []byte, known *receiverTable) error {
	if len(b) < 4 || b[0] != envelopeVersion {
		return errBadEnvelope
	}
	flags := b[1]
	body := b
	if flags&envMAC != 0 {
		if len(b) < 4+macLen {
			return errBadEnvelope
		}
		body = b[:len(b)-macLen]
		if key != nil && !hmac.Equal(b[len(b)-macLen:], envelopeMAC(key, body)) {
			return errAuth
		}
	} else if key != nil {
		return errAuth
	}
	*e = envelope{
		flags:    flags,
		msgType:  int(binary.BigEndian.Uint16(b[2:4])),
		reliable: flags&envReliable != 0,
		raw:      b,
	}
	r := reader{b: body[4:]}
	if known != nil && e.reliable {
		name := r.stringBytes()
		if s, ok := known.knownSender(name); ok {
			e.sender = s
		} else {
			e.sender = string(name)
		}
	} else {
		e.sender = r.string()
	}
	if e.reliable {
		copy(e.session[:], r.bytes(sessionIDLen))
	} else {
		r.uvarint()
	}
	e.seq = r.uvarint()
	e.dest = r.uvarint()
	e.tag = r.string()
	if r.err != nil {
		return errBadEnvelope
	}
	e.payload = r.b
	return nil
}

// encodePayload encodes a user payload and compresses it when enabled and
// worthwhile; it returns the bytes and the envelope flags they need.
func (c *Cluster) encodePayload(v any) ([]byte, byte, error) {
	return c.encodePayloadInto(nil, v)
}

// encodePayloadInto is encodePayload appending to dst[:0], so a caller that
// keeps the bytes only while it copies them into envelopes can pass a
// buffer of its own stack.
func (c *Cluster) encodePayloadInto(dst []byte, v any) ([]byte, byte, error) {
	raw, err := codec.AppendValue(dst[:0], v)
	if err != nil {
		return nil, 0, wrapCodecError(err)
	}
	if c.cfg.Compression {
		if out, ok := codec.Compress(nil, raw, c.cfg.CompressMinSize); ok {
			return out, envCompressed, nil
		}
	}
	return raw, 0, nil
}

// decodePayload reverses encodePayload. Compressed payloads are always
// understood, whatever the local Compression setting.
func decodePayload(e *envelope) (any, error) {
	p := e.payload
	if e.flags&envCompressed != 0 {
		var err error
		if p, err = codec.Decompress(p, MaxReliablePayload+1024); err != nil {
			return nil, err
		}
	}
	return codec.DecodeValue(p)
}

// decodeOwnedPayload is decodePayload for payload bytes of the caller's
// own (flags from their envelope), which the result's strings may share:
// they are never modified afterwards.
func decodeOwnedPayload(p []byte, flags byte) (any, error) {
	if flags&envCompressed != 0 {
		var err error
		if p, err = codec.Decompress(p, MaxReliablePayload+1024); err != nil {
			return nil, err
		}
	}
	return codec.DecodeValueShared(p, codec.DefaultMaxSize)
}

// wrapCodecError maps codec errors onto the engine's sentinels so callers
// only need to know the engine's errors.
func wrapCodecError(err error) error {
	switch {
	case errors.Is(err, codec.ErrUnsupportedType):
		return fmt.Errorf("%w: %s", ErrUnsupportedType, trimSentinel(err))
	case errors.Is(err, codec.ErrTooLarge):
		return fmt.Errorf("%w: %s", ErrTooLarge, trimSentinel(err))
	default:
		return fmt.Errorf("%w: %s", ErrInvalidArgument, trimSentinel(err))
	}
}

// trimSentinel returns err's text; the codec's messages already name the
// problem, and the engine sentinel is added in front by the caller.
func trimSentinel(err error) string { return err.Error() }

// DecodeJSON decodes JSON into the payload value model: nil, bool, int64
// (integral numbers), float64, string, []any and map[string]any.
func DecodeJSON(s string) (any, error) {
	v, err := codec.DecodeJSON(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidArgument, err.Error())
	}
	return v, nil
}

// stringBytes reads what string reads, without copying it out of r.
func (r *reader) stringBytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errBadHeader
		return nil
	}
	return r.bytes(int(n))
}
