package tests

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptling-contrib/gossip/internal/testnet"
)

// startStopScript starts and stops a node on argv[1] argv[2] times. Each
// run waits until it has seen at least one forged message (counted in
// not_member_dropped), so every cycle is known to have been flooded, and the
// total is printed for the test to check.
const startStopScript = `import sys
import time
import scriptling.net.gossip as gossip

cycles = int(sys.argv[2])
seen = 0
for i in range(cycles):
    c = gossip.create(bind_addr=sys.argv[1], node_id="cycler-" + str(i))
    c.start()
    deadline = time.time() + 10
    while c.stats()["not_member_dropped"] == 0 and time.time() < deadline:
        time.sleep(0.005)
    seen = seen + c.stats()["not_member_dropped"]
    if i % 2 == 0:
        c.stop()
    else:
        c.leave()
        c.stop()
print("CYCLES " + str(cycles) + " SEEN " + str(seen))
`

// strangerEnvelope is an engine envelope (engine/envelope.go: version
// 0xE1, flags, type, sender, stream, seq, dest, tag, payload) carrying a user
// message from a sender no cluster knows, wrapped as a memberlist user
// message (wire code 8). Anyone can send it to a node without a token. The
// script checks that the node counted these as messages from a non-member,
// so a change of wire format that turned them into mere garbage would fail
// the test rather than weaken it.
func strangerEnvelope() []byte {
	b := []byte{8, 0xE1, 0}
	b = binary.BigEndian.AppendUint16(b, 128)
	b = binary.AppendUvarint(b, uint64(len("stranger")))
	b = append(b, "stranger"...)
	b = binary.AppendUvarint(b, 0) // stream
	b = binary.AppendUvarint(b, 0) // seq
	b = binary.AppendUvarint(b, 0) // dest
	// An empty tag and no payload: the membership check comes first.
	return binary.AppendUvarint(b, 0)
}

// TestStartStopUnderFlood: a script restarts a node on one fixed loopback
// port while this process floods that port with forged user messages. A
// packet arriving while start() runs used to crash the whole process.
func TestStartStopUnderFlood(t *testing.T) {
	const cycles = 1000
	port := freeUDPTCPPort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pkt := strangerEnvelope()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = conn.Write(pkt) // refused while nothing listens: expected
			sent.Add(1)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	script := filepath.Join(t.TempDir(), "startstop.py")
	if err := os.WriteFile(script, []byte(startStopScript), 0o600); err != nil {
		t.Fatal(err)
	}
	// A generous bound that only catches a hang; a healthy run takes seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, runnerPath, script, addr, strconv.Itoa(cycles)).CombinedOutput()
	if err != nil {
		t.Fatalf("script exited with %v after start/stop cycles under flood:\n%s", err, tail(string(out), 40))
	}
	m := regexp.MustCompile(`CYCLES (\d+) SEEN (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("script did not report its cycles:\n%s", tail(string(out), 40))
	}
	if seen, _ := strconv.Atoi(string(m[2])); string(m[1]) != strconv.Itoa(cycles) || seen < cycles {
		t.Fatalf("script ran %s cycles and saw %d forged messages; want %d cycles, each flooded", m[1], seen, cycles)
	}
	t.Logf("%d start/stop cycles on %s under a flood of %d datagrams: %s forged messages counted", cycles, addr, sent.Load(), m[2])
}

// freeUDPTCPPort returns a loopback port free for TCP and UDP, or fails t.
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	port, err := testnet.FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
