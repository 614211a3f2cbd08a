// Package faultnet is an in-memory network for fault-injection tests of
// code built on github.com/hashicorp/memberlist.
//
// A Network holds nodes; each node is a *Transport implementing
// memberlist.NodeAwareTransport, to be set as memberlist.Config.Transport:
//
//	n := faultnet.NewNetworkWithSeed(1)
//	defer n.Close()
//	tr, _ := n.NewTransport("10.0.0.1:7946") // or n.NewTransportAuto()
//	cfg := memberlist.DefaultLANConfig()
//	cfg.Name, cfg.Transport = "a", tr
//
// Unlike memberlist's MockTransport nothing ever blocks on a stopped or
// unreachable peer:
//
//   - Packets (WriteTo) go into the receiver's buffered PacketCh. If the
//     buffer is full, the receiver is shut down or unknown, or the link is
//     blocked, the packet is dropped and counted; the sender never waits.
//   - Streams (DialTimeout) are pairs of *Conn with buffered directions and
//     working deadlines (timeouts satisfy net.Error.Timeout and
//     errors.Is(err, os.ErrDeadlineExceeded)). Dialing an unknown, shut down
//     or partitioned peer fails at once with an error wrapping
//     ErrConnRefused.
//   - Transport.Shutdown (idempotent, called by memberlist.Shutdown) breaks
//     the node's open and not yet accepted streams with ErrConnReset.
//
// Faults can be changed at any time from any goroutine.
//
// Packets: loss, delay with jitter and duplication, globally (SetLoss,
// SetDelay, SetDuplicate) or per directed link (SetLinkLoss, SetLinkDelay,
// SetLinkDuplicate, which override the global value). A packet delay also
// delays dials.
//
// Streams: a StreamFaults value, set globally (SetStreamFaults) or per
// directed link (SetLinkStreamFaults), acts on each Write call: it drops
// the call's bytes while the writer sees success (a hole in the byte
// stream), duplicates them, flips one of their bytes, delays them (order
// within a direction is kept) or cuts the stream, resetting both ends with
// ErrConnReset; it also refuses a fraction of dials. CutStreams and
// CutAllStreams reset open streams on demand. StallStreams stops a
// direction delivering bytes until ResumeStreams, as a peer whose kernel
// stops reading would: the writer fills the stream buffer, then blocks
// until its write deadline. A stream layer tested here must therefore
// detect lost, repeated and altered bytes itself, as it must on a real
// network behind a faulty middlebox or under an attacker.
//
// Partition, BlockLink and Isolate block links until Heal (which also ends
// stalls). A partition drops packets (including delayed ones still in
// flight), refuses dials and breaks open streams across it. Random
// decisions come from a seeded source, so NewNetworkWithSeed runs are
// reproducible for a given sequence of sends and writes. Stats reports a
// counter for every fault.
//
// # Healing a memberlist partition
//
// Heal alone does not reliably reunite a memberlist cluster. Once each side
// has declared the other dead and the dead broadcasts have drained,
// memberlist never contacts those nodes again: probes and push-pull only
// target live nodes, gossip to dead nodes only carries queued broadcasts,
// and Members/NumMembers no longer list them. (Healing within about a
// second of the partition can still converge on broadcasts in flight, which
// is why tests must not rely on it.)
//
// A single Join from any node to the address of any node on the other side
// is enough: the push-pull exchange tells each side that the other believes
// it dead, each accused node refutes by raising its incarnation, and the
// alive messages spread to everyone by gossip. The cluster library
// therefore periodically rejoins peers it knows of but memberlist no longer
// lists; tests do the same with one Join after Heal.
//
// Call Network.Close when done (for example in t.Cleanup): it shuts down
// all nodes, breaks every stream (releasing blocked readers and writers)
// and discards delayed packets so that no timer outlives a test.
package faultnet
