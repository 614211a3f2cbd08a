package faultnet

import "time"

// StreamFaults are the stream faults of a directed link from -> to. They
// apply to the bytes node from writes on any stream with node to (whichever
// of the two dialed it) and to dials from from to to. The zero value means
// no faults.
//
// Rates are probabilities per Write call (per dial for Refuse), clamped to
// [0, 1]; negative durations count as zero. Write calls of zero bytes are
// never faulted. At most one of Cut and Drop applies to a Write; Corrupt,
// Duplicate and the delay may combine.
type StreamFaults struct {
	// Drop discards the bytes of a Write; the writer sees success. The
	// reader sees a stream with a hole in it, as after data lost inside a
	// connection, and must detect it by its own framing.
	Drop float64
	// Duplicate delivers the bytes of a Write twice in a row.
	Duplicate float64
	// Corrupt flips the bits of one random byte of a Write.
	Corrupt float64
	// Cut resets the stream in both directions instead of writing: the
	// Write and every later operation on either end fail with
	// ErrConnReset, and bytes not yet read are lost.
	Cut float64
	// Refuse fails a dial with an error wrapping ErrConnRefused.
	Refuse float64
	// Delay and Jitter make the bytes of each Write readable only after
	// Delay plus a uniformly random extra in [0, Jitter). Order within a
	// direction is kept: bytes never become readable before those of an
	// earlier Write. The writer does not wait, but delayed bytes count
	// against the stream buffer (see SetStreamBuffer).
	Delay, Jitter time.Duration
}

func (f StreamFaults) clamped() StreamFaults {
	f.Drop = clampRate(f.Drop)
	f.Duplicate = clampRate(f.Duplicate)
	f.Corrupt = clampRate(f.Corrupt)
	f.Cut = clampRate(f.Cut)
	f.Refuse = clampRate(f.Refuse)
	f.Delay, f.Jitter = max(f.Delay, 0), max(f.Jitter, 0)
	return f
}

// SetStreamFaults sets the stream faults of every directed link without
// its own setting. They apply to Writes and dials from then on, on streams
// already open too.
func (n *Network) SetStreamFaults(f StreamFaults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.streamGlobal = f.clamped()
}

// SetLinkStreamFaults sets the stream faults of the directed link from ->
// to. They replace the global setting as a whole for that link (a field
// left zero means "no such fault", not "use the global value").
// ClearLinkFaults removes the override.
func (n *Network) SetLinkStreamFaults(from, to string, f StreamFaults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.streamLinks[link{normalizeAddr(from), normalizeAddr(to)}] = f.clamped()
}

func (n *Network) streamFaultsLocked(from, to string) StreamFaults {
	if f, ok := n.streamLinks[link{from, to}]; ok {
		return f
	}
	return n.streamGlobal
}

func (n *Network) hitLocked(rate float64) bool {
	return rate > 0 && n.rng.Float64() < rate
}

// writeFault is what the network does with one Write call.
type writeFault struct {
	drop    bool          // discard the bytes
	payload []byte        // the bytes to queue otherwise
	delay   time.Duration // how long they stay in flight
}

// writeFault draws the faults of a Write of b on direction p of stream s.
// A cut breaks s at once; the write then fails on the broken pipe.
func (n *Network) writeFault(s *stream, p *pipe, b []byte) writeFault {
	wf := writeFault{payload: b}
	if len(b) == 0 {
		return wf
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, open := n.streams[s]; !open {
		return wf // closed or broken: the write fails by itself
	}
	n.stats.streamWrites.Add(1)
	if n.isStalledLocked(p.from, p.to) {
		n.stats.streamStalled.Add(1)
	}
	f := n.streamFaultsLocked(p.from, p.to)
	if n.hitLocked(f.Cut) {
		n.cutLocked(s)
		return wf
	}
	if n.hitLocked(f.Drop) {
		n.stats.streamDropped.Add(1)
		wf.drop = true
		return wf
	}
	if n.hitLocked(f.Corrupt) {
		n.stats.streamCorrupted.Add(1)
		wf.payload = append([]byte(nil), b...)
		wf.payload[n.rng.IntN(len(b))] ^= byte(1 + n.rng.IntN(255))
	}
	if n.hitLocked(f.Duplicate) {
		n.stats.streamDuplicated.Add(1)
		wf.payload = append(append(make([]byte, 0, 2*len(b)), wf.payload...), wf.payload...)
	}
	wf.delay = n.delayLocked(faults{delay: f.Delay, jitter: f.Jitter})
	if wf.delay > 0 {
		n.stats.streamDelayed.Add(1)
	}
	return wf
}

// cutLocked resets an open stream in both directions.
func (n *Network) cutLocked(s *stream) bool {
	if _, open := n.streams[s]; !open {
		return false
	}
	delete(n.streams, s)
	s.breakStream()
	n.stats.streamsCut.Add(1)
	return true
}

// CutStreams resets every open stream between a and b (dialed either way)
// in both directions, as a cut connection would be: pending and later
// operations on both ends fail with ErrConnReset and bytes not yet read are
// lost. New dials are not affected. It returns the number of streams cut.
func (n *Network) CutStreams(a, b string) int {
	a, b = normalizeAddr(a), normalizeAddr(b)
	n.mu.Lock()
	defer n.mu.Unlock()
	cut := 0
	for s := range n.streams {
		if (s.from == a && s.to == b) || (s.from == b && s.to == a) {
			if n.cutLocked(s) {
				cut++
			}
		}
	}
	return cut
}

// CutAllStreams resets every open stream of the network, as CutStreams
// does, and returns how many it cut.
func (n *Network) CutAllStreams() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	cut := 0
	for s := range n.streams {
		if n.cutLocked(s) {
			cut++
		}
	}
	return cut
}

// StallStreams stops delivering the bytes node from writes on its streams
// with node to, open ones and those dialed later, as when a peer's kernel
// stops reading: the reader of to sees no new bytes, writes of from fill
// the stream buffer (see SetStreamBuffer) and then block until resumed,
// their write deadline passes or the stream breaks. The other direction is
// not affected. ResumeStreams or Heal undoes it.
func (n *Network) StallStreams(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := link{normalizeAddr(from), normalizeAddr(to)}
	n.stalled[k] = struct{}{}
	n.setStalledLocked(k, true)
}

// ResumeStreams undoes StallStreams(from, to): the bytes held are
// delivered and blocked writers continue.
func (n *Network) ResumeStreams(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := link{normalizeAddr(from), normalizeAddr(to)}
	delete(n.stalled, k)
	n.setStalledLocked(k, false)
}

func (n *Network) isStalledLocked(from, to string) bool {
	_, ok := n.stalled[link{from, to}]
	return ok
}

// setStalledLocked applies a stall change to the open streams of link k.
func (n *Network) setStalledLocked(k link, stalled bool) {
	for s := range n.streams {
		for _, p := range [2]*pipe{s.a2b, s.b2a} {
			if p.from == k.from && p.to == k.to {
				p.setStalled(stalled)
			}
		}
	}
}

// resumeAllLocked ends every stall.
func (n *Network) resumeAllLocked() {
	for k := range n.stalled {
		n.setStalledLocked(k, false)
	}
	clear(n.stalled)
}
