package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/scriptling-contrib/gossip/internal/streams"
)

// The loopback TCP limit: the reliable throughput the wire itself allows
// with the engine's own stream framing, as a baseline for the engine's
// reliable figures. One loopback TCP connection; a writer sends frames of
// the figure's payload size, wireBatch to a write (as the transport batches
// them when senders outpace the socket), in internal/streams' format:
// CRC-32C-checked frames (plain) or frames packed into AES-GCM records of a
// Noise NNpsk0 session (sealed), through the package's own code. A reader
// drains the connection, checks every frame (checksum or record
// authentication, plus the sequence number each frame carries) and the
// time runs until it has all of them. No engine, envelope, codec or
// handler: what is left is the framing, the cipher and the kernel.

// wireBatch is how many frames go to one write.
const wireBatch = 64

// wireLimitOnce measures frames/s of size bytes over loopback TCP for d.
func wireLimitOnce(size int, sealed bool, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	wc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer wc.Close()
	rc, ok := <-accepted
	if !ok {
		return 0, fmt.Errorf("loopback accept failed")
	}
	defer rc.Close()
	var kr *memberlist.Keyring
	if sealed {
		if kr, err = memberlist.NewKeyring(nil, []byte(lanEncrypted.key)); err != nil {
			return 0, err
		}
	}
	// The engine's stream buffer size (engine/transport.go).
	w, r, err := streams.NewFramePair(wc, rc, kr, 16<<10)
	if err != nil {
		return 0, err
	}

	type result struct {
		n   int64
		err error
	}
	read := make(chan result, 1)
	go func() {
		var n int64
		for {
			f, err := r.Next()
			if err == io.EOF {
				read <- result{n, nil} // the writer is done
				return
			}
			if err != nil {
				read <- result{n, err}
				return
			}
			if len(f) != size || int64(binary.BigEndian.Uint64(f)) != n {
				read <- result{n, fmt.Errorf("frame %d: wrong size or sequence", n)}
				return
			}
			n++
		}
	}()

	frames := make([][]byte, wireBatch)
	for i := range frames {
		frames[i] = make([]byte, size)
	}
	var sent int64
	t0 := time.Now()
	for time.Since(t0) < d {
		for _, f := range frames {
			binary.BigEndian.PutUint64(f, uint64(sent))
			sent++
		}
		if err := w.WriteBatch(frames); err != nil {
			return 0, err
		}
	}
	if err := wc.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	select {
	case res := <-read:
		if res.err != nil {
			return 0, res.err
		}
		if res.n != sent {
			return 0, fmt.Errorf("the reader got %d of %d frames", res.n, sent)
		}
	case <-time.After(60 * time.Second):
		return 0, fmt.Errorf("the reader did not get %d frames within 60 s", sent)
	}
	return float64(sent) / time.Since(t0).Seconds(), nil
}

// wireLimit measures the limit b.rounds times and returns the samples.
func wireLimit(b *bench, size int, sealed bool, d time.Duration) ([]float64, error) {
	name := "plain"
	if sealed {
		name = "sealed"
	}
	var out []float64
	for r := 0; r < b.rounds; r++ {
		v, err := wireLimitOnce(size, sealed, d)
		if err != nil {
			return nil, fmt.Errorf("loopback TCP limit, %s, round %d: %w", name, r+1, err)
		}
		b.log("  round %d %-10s %.4g", r+1, "wire "+name, v)
		out = append(out, v)
	}
	return out, nil
}
