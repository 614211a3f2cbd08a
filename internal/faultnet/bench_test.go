package faultnet

import (
	"io"
	"testing"
)

// BenchmarkStreamThroughput measures one direction of a stream with no
// faults: 1 KiB writes read concurrently.
func BenchmarkStreamThroughput(b *testing.B) {
	n := NewNetworkWithSeed(1)
	defer n.Close()
	src, err := n.NewTransport(addrA)
	if err != nil {
		b.Fatal(err)
	}
	dst, err := n.NewTransport(addrB)
	if err != nil {
		b.Fatal(err)
	}
	client, err := src.DialTimeout(addrB, 0)
	if err != nil {
		b.Fatal(err)
	}
	server := <-dst.StreamCh()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, server)
	}()
	msg := make([]byte, 1024)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		if _, err := client.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	_ = client.Close()
	<-done
}
