package engine

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Refusing traffic that is not sealed with an installed key before
// memberlist sees it.
//
// memberlist drops packets and streams that fail decryption and says so
// only in its log. With encryption on, the engine checks them first, at the
// transport (internal/streams' PacketFilter and ForwardFilter), against
// memberlist's own format, so Stats.DecryptFailures counts each refusal
// from the refusal itself. Packets that fail are dropped there, so junk
// never reaches memberlist's decoder; streams go on to memberlist, which
// answers the dialer with its reason (see stream). What passes is
// decrypted a second time by memberlist: about a microsecond per packet,
// and once per push/pull.
//
// The format is memberlist v0.7's (security.go, net.go): a sealed payload is
// [version 0|1][12-byte nonce][AES-GCM ciphertext][16-byte tag], version 0
// with PKCS#7 padding inside the ciphertext. A packet is one sealed payload
// whose additional data is the memberlist label (the engine sets none). The
// first message of a memberlist stream is [encryptMsg][uint32 length][sealed
// payload of that length], its first five bytes being the additional data.
// TestSealCheckAcceptsMemberlist feeds the checks what memberlist itself
// writes, so a change of format fails there rather than in production.
const (
	mlEncryptMsg        = 10 // memberlist's messageType encryptMsg
	mlMaxSealVersion    = 1  // memberlist's maxEncryptionVersion
	mlNonceSize         = 12 // GCM standard nonce
	mlSealOverhead      = 1 + 12 + 16
	mlStreamHeaderSize  = 5        // type byte and uint32 length
	mlMaxStreamMessage  = 20 << 20 // memberlist's maxPushStateBytes
	sealCheckReadWindow = 10 * time.Second
)

// sealCheck verifies payloads against the keys of a memberlist keyring.
// The AEADs are rebuilt when the ring's keys change (rotation).
type sealCheck struct {
	ring     *memberlist.Keyring
	failures func() // counts a refusal
	readFor  time.Duration

	mu    sync.Mutex
	keys  [][]byte
	aeads []cipher.AEAD

	scratch []byte // packet plaintext; packets are checked on one goroutine
}

func newSealCheck(ring *memberlist.Keyring, failures func(), readFor time.Duration) *sealCheck {
	if readFor <= 0 {
		readFor = sealCheckReadWindow
	}
	return &sealCheck{ring: ring, failures: failures, readFor: readFor}
}

// ciphers returns an AEAD per installed key, primary first.
func (s *sealCheck) ciphers() []cipher.AEAD {
	keys := s.ring.GetKeys()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sameKeys(keys, s.keys) {
		aeads := make([]cipher.AEAD, 0, len(keys))
		for _, k := range keys {
			block, err := aes.NewCipher(k)
			if err != nil {
				continue // the ring only holds valid AES key sizes
			}
			gcm, err := cipher.NewGCM(block)
			if err != nil {
				continue
			}
			aeads = append(aeads, gcm)
		}
		s.keys, s.aeads = keys, aeads
	}
	return s.aeads
}

func sameKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// open reports whether sealed authenticates under one of the keys, using
// dst as scratch space for the plaintext. It returns dst for reuse.
func (s *sealCheck) open(sealed, ad, dst []byte) ([]byte, bool) {
	if len(sealed) < mlSealOverhead || sealed[0] > mlMaxSealVersion {
		return dst, false
	}
	nonce, ct := sealed[1:1+mlNonceSize], sealed[1+mlNonceSize:]
	for _, a := range s.ciphers() {
		out, err := a.Open(dst[:0], nonce, ct, ad)
		if err == nil {
			return out, true
		}
		dst = out
	}
	return dst, false
}

// packet is the streams PacketFilter: a packet passes when it is sealed
// with an installed key.
func (s *sealCheck) packet(p *memberlist.Packet) bool {
	var ok bool
	s.scratch, ok = s.open(p.Buf, nil, s.scratch)
	if cap(s.scratch) > 64<<10 {
		s.scratch = nil // an outsized packet's buffer is not kept
	}
	if !ok {
		s.failures()
	}
	return ok
}

// stream is the streams ForwardFilter: it reads the first message of a
// connection meant for memberlist and counts it when that message is not
// sealed with an installed key. The connection still goes on to memberlist,
// which refuses it and answers the dialer with the reason ("no installed
// keys could decrypt the message", "encryption is not configured"): that
// answer is how a node joining with the wrong key learns why. Only a
// connection that does not deliver its first message within the read
// window is closed here. The message is buffered as it arrives, as
// memberlist itself does, so a peer that announces a large message and
// sends little holds little; one larger than memberlist accepts is not
// read at all (memberlist refuses it by its header).
func (s *sealCheck) stream(c net.Conn, peeked []byte) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(s.readFor))
	buf := bytes.NewBuffer(peeked)
	if buf.Len() < mlStreamHeaderSize {
		if _, err := io.CopyN(buf, c, int64(mlStreamHeaderSize-buf.Len())); err != nil {
			return nil, fmt.Errorf("reading the message header: %w", err)
		}
	}
	head := buf.Bytes()[:mlStreamHeaderSize]
	if head[0] != mlEncryptMsg {
		s.failures()
		return buf.Bytes(), nil
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > mlMaxStreamMessage {
		return buf.Bytes(), nil
	}
	if more := int64(mlStreamHeaderSize) + int64(n) - int64(buf.Len()); more > 0 {
		if _, err := io.CopyN(buf, c, more); err != nil {
			return nil, fmt.Errorf("reading the message: %w", err)
		}
	}
	msg := buf.Bytes()
	end := mlStreamHeaderSize + int(n)
	if _, ok := s.open(msg[mlStreamHeaderSize:end], msg[:mlStreamHeaderSize], nil); !ok {
		s.failures()
	}
	return msg, nil
}
