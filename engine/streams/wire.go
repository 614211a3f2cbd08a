package streams

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Wire format.
//
// A stream connection shares memberlist's TCP listener. The dialer opens it
// with a hello:
//
//	magic[4] version[1] flags[1] labelDigest[32]
//
// memberlist starts every stream with a message type byte: its plain
// message types are small integers (below 20), and its label header is 244.
// The magic starts with 0xF7, which memberlist never sends first, so the
// listener can route a connection after peeking at a single byte.
//
// The acceptor answers with:
//
//	magic[4] status[1] session[16]
//
// where session is random; when encrypting, it is bound into every frame's
// additional data so a recorded stream cannot be replayed on a new
// connection. With encryption the dialer then proves it holds a key the
// acceptor accepts by sending one sealed, empty frame (the first frame of
// the stream, in the format below); the acceptor answers with one status
// byte. After that the stream is one-way, dialer to acceptor, and carries
// frames:
//
//	uvarint(len) payload[len]
//
// Without a keyring the payload is the frame itself. With one it is
//
//	version[1]=1 nonce[12] AES-GCM(ciphertext||tag[16])
//
// sealed with additional data labelDigest || session || uint64be(frameIndex),
// so frames cannot be reordered, dropped or replayed within a stream either.
const (
	protoVersion = 1

	flagEncrypted = 1 << 0

	helloLen   = 4 + 1 + 1 + sha256.Size
	replyLen   = 4 + 1 + sessionLen
	sessionLen = 16

	encVersion  = 1
	nonceLen    = 12
	tagLen      = 16
	encOverhead = 1 + nonceLen + tagLen
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

// readReply reads the acceptor's answer and returns the session id.
func readReply(r io.Reader) ([sessionLen]byte, error) {
	var buf [replyLen]byte
	var session [sessionLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return session, fmt.Errorf("streams: reading handshake reply: %w", err)
	}
	if [4]byte(buf[:4]) != magic {
		return session, errors.New("streams: peer does not speak the stream protocol")
	}
	if buf[4] != statusOK {
		return session, &HandshakeError{Status: buf[4]}
	}
	copy(session[:], buf[5:])
	return session, nil
}
