package streams

import (
	"bytes"
	"testing"

	"github.com/hashicorp/memberlist"
)

// FuzzAcceptHandshake feeds arbitrary first flights (hello and first Noise
// message) to the acceptor's parsing: it must never panic and never open a
// session. The seeds are well-formed flights under a key the acceptor does
// not hold, so the fuzzer starts from the real structure.
func FuzzAcceptHandshake(f *testing.F) {
	kr, err := memberlist.NewKeyring(nil, key(1))
	if err != nil {
		f.Fatal(err)
	}
	other, err := memberlist.NewKeyring(nil, key(2))
	if err != nil {
		f.Fatal(err)
	}
	d := labelDigest("")
	hello := appendHello(nil, true, &d)
	var psks pskCache
	valid, _, err := startHandshake(append([]byte(nil), hello...), other, &psks, hello)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:helloLen+10])
	f.Add(append(append([]byte(nil), hello...), 0xFF, 0xFF))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < helloLen {
			return
		}
		h := [helloLen]byte(data[:helloLen])
		if helloStatus(&h, true, &d) != statusOK {
			return
		}
		msg, err := readHandshakeMsg(bytes.NewReader(data[helloLen:]))
		if err != nil {
			return
		}
		if _, _, err := acceptHandshake(nil, msg, kr, &psks, data[:helloLen]); err == nil {
			t.Fatalf("a flight without the key opened a session: %x", data)
		}
	})
}
