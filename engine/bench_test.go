package engine

import (
	"strings"
	"testing"
)

// benchEnvelope is a typical reliable user message: a 100-byte payload.
func benchEnvelope() *envelope {
	return &envelope{
		msgType: MinUserMessageType, sender: "node-0123456789abcdef", payload: []byte(strings.Repeat("p", 100)),
		session: sessionID{1, 2, 3}, seq: 12345, dest: 1 << 60, reliable: true,
	}
}

func BenchmarkEnvelopeEncode(b *testing.B) {
	e := benchEnvelope()
	b.ReportAllocs()
	for b.Loop() {
		encodeEnvelope(e, nil)
	}
}

func BenchmarkEnvelopeEncodeMAC(b *testing.B) {
	e, key := benchEnvelope(), tokenKey("token")
	b.ReportAllocs()
	for b.Loop() {
		encodeEnvelope(e, key)
	}
}

func BenchmarkEnvelopeDecode(b *testing.B) {
	raw := encodeEnvelope(benchEnvelope(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeEnvelope(raw, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeDecodeMAC(b *testing.B) {
	key := tokenKey("token")
	raw := encodeEnvelope(benchEnvelope(), key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeEnvelope(raw, key); err != nil {
			b.Fatal(err)
		}
	}
}
