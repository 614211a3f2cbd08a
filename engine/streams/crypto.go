package streams

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/hashicorp/memberlist"
)

var errDecrypt = errors.New("streams: frame failed to decrypt with any key")

// aeadCache holds one AES-GCM instance per key ever used; the instances are
// safe for concurrent use.
type aeadCache struct {
	m sync.Map // string(key) -> cipher.AEAD
}

func (c *aeadCache) get(key []byte) (cipher.AEAD, error) {
	if v, ok := c.m.Load(string(key)); ok {
		return v.(cipher.AEAD), nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	v, _ := c.m.LoadOrStore(string(key), aead)
	return v.(cipher.AEAD), nil
}

// frameAAD builds the additional data of a stream's frames; the last 8 bytes
// carry the frame index and are rewritten for every frame.
func frameAAD(digest *[sha256.Size]byte, session *[sessionLen]byte) []byte {
	b := make([]byte, 0, sha256.Size+sessionLen+8)
	b = append(b, digest[:]...)
	b = append(b, session[:]...)
	return append(b, make([]byte, 8)...)
}

// sealer encrypts the frames of one outbound stream. Not safe for
// concurrent use.
type sealer struct {
	keyring *memberlist.Keyring
	cache   *aeadCache
	rnd     *bufio.Reader // buffered CSPRNG output for nonces
	aad     []byte
	seq     uint64
}

func newSealer(kr *memberlist.Keyring, cache *aeadCache, digest *[sha256.Size]byte, session *[sessionLen]byte) *sealer {
	return &sealer{
		keyring: kr,
		cache:   cache,
		rnd:     bufio.NewReaderSize(rand.Reader, 4096),
		aad:     frameAAD(digest, session),
	}
}

// seal appends the sealed form of frame to dst.
func (s *sealer) seal(dst, frame []byte) ([]byte, error) {
	key := s.keyring.GetPrimaryKey()
	if key == nil {
		return dst, errors.New("streams: keyring has no primary key")
	}
	aead, err := s.cache.get(key)
	if err != nil {
		return dst, err
	}
	var nonce [nonceLen]byte
	if _, err := io.ReadFull(s.rnd, nonce[:]); err != nil {
		return dst, err
	}
	binary.BigEndian.PutUint64(s.aad[len(s.aad)-8:], s.seq)
	s.seq++
	dst = append(dst, encVersion)
	dst = append(dst, nonce[:]...)
	return aead.Seal(dst, nonce[:], frame, s.aad), nil
}

// opener decrypts the frames of one inbound stream. Not safe for concurrent
// use.
type opener struct {
	keyring *memberlist.Keyring
	cache   *aeadCache
	aad     []byte
	seq     uint64
}

func newOpener(kr *memberlist.Keyring, cache *aeadCache, digest *[sha256.Size]byte, session *[sessionLen]byte) *opener {
	return &opener{keyring: kr, cache: cache, aad: frameAAD(digest, session)}
}

// open returns the plaintext of a sealed payload, trying every key of the
// ring. The result does not alias payload.
func (o *opener) open(payload []byte) ([]byte, error) {
	if len(payload) < encOverhead || payload[0] != encVersion {
		return nil, errDecrypt
	}
	nonce := payload[1 : 1+nonceLen]
	ct := payload[1+nonceLen:]
	binary.BigEndian.PutUint64(o.aad[len(o.aad)-8:], o.seq)
	out := make([]byte, 0, len(ct)-tagLen)
	for _, key := range o.keyring.GetKeys() {
		aead, err := o.cache.get(key)
		if err != nil {
			continue
		}
		// A failed Open may scribble on out, never on ct.
		if plain, err := aead.Open(out[:0], nonce, ct, o.aad); err == nil {
			o.seq++
			return plain, nil
		}
	}
	return nil, errDecrypt
}
