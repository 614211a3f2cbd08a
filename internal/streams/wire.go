package streams

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Wire format, protocol version 2.
//
// A stream connection shares memberlist's TCP listener. The dialer opens it
// with a hello:
//
//	magic[4] version[1] flags[1] labelDigest[32]
//
// memberlist starts every stream with a message type byte: its plain
// message types are small integers (below 20), and its label header is 244.
// The magic starts with 0xF7, which memberlist never sends first, so the
// listener can route a connection after peeking at a single byte. The label
// is not secret (memberlist's is sent in clear too); sending its digest lets
// the acceptor refuse a stream of another cluster with a clear reason.
//
// Without encryption the acceptor answers magic[4] status[1] and the stream
// then carries frames, dialer to acceptor:
//
//	uvarint(len) payload[len] crc[4]
//
// where crc is the CRC-32C (Castagnoli) of uint64be(frameIndex), the length
// bytes and the payload: a stream that lost, duplicated or corrupted bytes
// (or whole frames) fails the check and is closed, never delivered as a
// wrong frame. This is integrity against accidents, not attackers.
//
// With encryption (flag 1) the dialer sends, right after the hello, the
// first message of a Noise NNpsk0 handshake
// (Noise_NNpsk0_25519_AESGCM_SHA256):
//
//	uint16be(len) noiseMessage1[len]        -> psk, e
//
// The pre-shared key is HKDF-SHA256 of the cluster's primary key. The
// prologue is a fixed string followed by the whole hello, so the version,
// flags and label are authenticated by the handshake. The acceptor
// trial-reads message 1 with the PSK of every key of its ring (message 1
// carries an AEAD tag under the PSK, so a wrong key fails there) and answers
//
//	magic[4] status[1] uint16be(len) noiseMessage2[len]   <- e, ee
//
// (the Noise part only when status is OK). The dialer accepts the stream
// only once message 2 authenticates, so the acceptor's OK is proven with
// the same key. Each session thus has its own keys from a fresh ephemeral
// Diffie-Hellman exchange (forward secrecy: recording a stream and later
// learning the cluster key does not decrypt it) and replaying a recorded
// handshake or stream into a new connection fails, because the acceptor's
// ephemeral key differs.
//
// After the handshake the stream is one-way and carries records:
//
//	uint16be(len) noiseTransportMessage[len]   (len <= 65535)
//
// each the AES-GCM sealing, with the session's counter nonce, of up to
// 65519 bytes of a plaintext stream of frames "uvarint(len) payload[len]".
// Frames are packed into records across their boundaries, so a batch of
// small frames costs one seal per 64 KiB. Nonces are the CipherState's
// counter (never random, never repeated under one key); both ends rekey
// (CipherState.Rekey) after rekeyRecords records or rekeyBytes bytes, and a
// session ends after maxSessionRecords records (the dialer then redials).
//
// A refusal (status other than OK) is sent in clear and is not
// authenticated: it only saves the dialer a timeout, and anyone on the path
// could cut the connection anyway.
const (
	protoVersion = 2

	flagEncrypted = 1 << 0

	helloLen = 4 + 1 + 1 + sha256.Size
	replyLen = 4 + 1

	// maxHandshakeMsg bounds a Noise handshake message's length claim;
	// NNpsk0's are 48 bytes (an ephemeral key and an empty payload's tag).
	maxHandshakeMsg = 256

	tagLen = 16
	crcLen = 4
)

var magic = [4]byte{0xF7, 'S', 'T', 'R'}

// Handshake status codes.
const (
	statusOK byte = iota
	statusBadVersion
	statusEncryptionMismatch
	statusLabelMismatch
	statusKeyMismatch
)

// Errors returned by Send and SendAsync.
var (
	ErrShutdown      = errors.New("streams: transport shut down")
	ErrFrameTooLarge = errors.New("streams: frame larger than MaxFrameSize")
	ErrPeerClosed    = errors.New("streams: peer connection closed")
)

// HandshakeError reports a stream handshake refused by the peer.
type HandshakeError struct {
	Status byte
}

func (e *HandshakeError) Error() string {
	switch e.Status {
	case statusBadVersion:
		return "streams: handshake refused: unsupported protocol version"
	case statusEncryptionMismatch:
		return "streams: handshake refused: encryption setting differs"
	case statusLabelMismatch:
		return "streams: handshake refused: label differs"
	case statusKeyMismatch:
		return "streams: handshake refused: no shared encryption key"
	}
	return fmt.Sprintf("streams: handshake refused: status %d", e.Status)
}

func labelDigest(label string) [sha256.Size]byte {
	return sha256.Sum256([]byte("scriptling-gossip/streams label\x00" + label))
}

func appendHello(b []byte, encrypted bool, digest *[sha256.Size]byte) []byte {
	b = append(b, magic[:]...)
	b = append(b, protoVersion)
	var flags byte
	if encrypted {
		flags |= flagEncrypted
	}
	b = append(b, flags)
	return append(b, digest[:]...)
}

// readReply reads the acceptor's magic and status.
func readReply(r io.Reader) error {
	var buf [replyLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return fmt.Errorf("streams: reading handshake reply: %w", err)
	}
	if [4]byte(buf[:4]) != magic {
		return errors.New("streams: peer does not speak the stream protocol")
	}
	if buf[4] != statusOK {
		return &HandshakeError{Status: buf[4]}
	}
	return nil
}

// helloStatus is the acceptor's verdict on a hello, before any key check.
func helloStatus(hello *[helloLen]byte, encrypted bool, digest *[sha256.Size]byte) byte {
	switch {
	case hello[4] != protoVersion:
		return statusBadVersion
	case (hello[5]&flagEncrypted != 0) != encrypted:
		return statusEncryptionMismatch
	case [sha256.Size]byte(hello[6:]) != *digest:
		return statusLabelMismatch
	}
	return statusOK
}
