package streams

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/flynn/noise"
	"github.com/hashicorp/memberlist"
)

// The handshake is Noise NNpsk0 with 25519, AES-GCM and SHA-256: every
// primitive is FIPS-approved except X25519, and the cluster's keys are
// AES keys already. NNpsk0 fits a cluster with one shared secret and no
// per-node identities: the first message is sealed under the PSK, so the
// acceptor learns at once whether the dialer holds a key of its ring, and
// the second is sealed under the PSK and the ephemeral Diffie-Hellman
// secret, so the dialer learns that the acceptor does and both derive fresh
// session keys.
var cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherAESGCM, noise.HashSHA256)

// prologuePrefix starts the handshake prologue; the hello follows it.
const prologuePrefix = "scriptling-gossip/streams/2 noise prologue\x00"

// pskInfo is the HKDF info string deriving the 32-byte PSK from a cluster
// key (16, 24 or 32 bytes), so the PSK is never the AES key used for gossip.
const pskInfo = "scriptling-gossip/streams/2 psk"

var errNoPrimaryKey = errors.New("streams: keyring has no primary key")

// pskCache keeps the PSK derived from each key seen.
type pskCache struct {
	m sync.Map // string(key) -> []byte
}

func (c *pskCache) get(key []byte) ([]byte, error) {
	if v, ok := c.m.Load(string(key)); ok {
		return v.([]byte), nil
	}
	psk, err := hkdf.Key(sha256.New, key, nil, pskInfo, 32)
	if err != nil {
		return nil, err
	}
	c.m.Store(string(key), psk)
	return psk, nil
}

func prologue(hello []byte) []byte {
	return append([]byte(prologuePrefix), hello...)
}

func newHandshake(initiator bool, psk, hello []byte) (*noise.HandshakeState, error) {
	return noise.NewHandshakeState(noise.Config{
		CipherSuite:           cipherSuite,
		Pattern:               noise.HandshakeNN,
		Initiator:             initiator,
		Prologue:              prologue(hello),
		PresharedKey:          psk,
		PresharedKeyPlacement: 0,
	})
}

// startHandshake builds the dialer's handshake state under the primary key
// and appends its first message, length-prefixed, to dst.
func startHandshake(dst []byte, kr *memberlist.Keyring, psks *pskCache, hello []byte) ([]byte, *noise.HandshakeState, error) {
	key := kr.GetPrimaryKey()
	if key == nil {
		return dst, nil, errNoPrimaryKey
	}
	psk, err := psks.get(key)
	if err != nil {
		return dst, nil, err
	}
	hs, err := newHandshake(true, psk, hello)
	if err != nil {
		return dst, nil, err
	}
	at := len(dst)
	dst = append(dst, 0, 0)
	dst, _, _, err = hs.WriteMessage(dst, nil)
	if err != nil {
		return dst, nil, err
	}
	binary.BigEndian.PutUint16(dst[at:], uint16(len(dst)-at-2))
	return dst, hs, nil
}

// finishHandshake reads the acceptor's second message and returns the
// dialer's sending state.
func finishHandshake(r io.Reader, hs *noise.HandshakeState) (*noise.CipherState, error) {
	msg, err := readHandshakeMsg(r)
	if err != nil {
		return nil, err
	}
	_, send, _, err := hs.ReadMessage(nil, msg)
	if err != nil || send == nil {
		return nil, fmt.Errorf("streams: acceptor's handshake answer failed to authenticate: %v", err)
	}
	return send, nil
}

// readHandshakeMsg reads one length-prefixed handshake message.
func readHandshakeMsg(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, fmt.Errorf("streams: reading handshake message: %w", unexpectedEOF(err))
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n > maxHandshakeMsg {
		return nil, fmt.Errorf("streams: handshake message of %d bytes, at most %d expected", n, maxHandshakeMsg)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("streams: reading handshake message: %w", unexpectedEOF(err))
	}
	return msg, nil
}

// errNoKey reports a first handshake message no key of the ring opens.
var errNoKey = errors.New("streams: handshake not sealed with any installed key")

// acceptHandshake trial-reads the dialer's first message under every key
// of the ring and, on success, appends the length-prefixed answer to dst
// and returns the acceptor's receiving state.
func acceptHandshake(dst, msg1 []byte, kr *memberlist.Keyring, psks *pskCache, hello []byte) ([]byte, *noise.CipherState, error) {
	for _, key := range kr.GetKeys() {
		psk, err := psks.get(key)
		if err != nil {
			continue
		}
		hs, err := newHandshake(false, psk, hello)
		if err != nil {
			return dst, nil, err
		}
		if _, _, _, err := hs.ReadMessage(nil, msg1); err != nil {
			continue
		}
		at := len(dst)
		dst = append(dst, 0, 0)
		dst, recv, _, err := hs.WriteMessage(dst, nil)
		if err != nil || recv == nil {
			return dst[:at], nil, fmt.Errorf("streams: writing handshake answer: %v", err)
		}
		binary.BigEndian.PutUint16(dst[at:], uint16(len(dst)-at-2))
		return dst, recv, nil
	}
	return dst, nil, errNoKey
}
