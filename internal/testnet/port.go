// Package testnet holds network and cluster helpers shared by the module's
// tests. It imports nothing of the module, so the engine's own tests can use
// it as well as the packages built on the engine.
package testnet

import (
	"errors"
	"net"
	"strconv"
)

// FreeLoopbackPort returns a port that was free for both TCP and UDP on
// 127.0.0.1 a moment ago, for tests that must reuse one fixed port (a node
// restarted on the same address). The kernel picks the TCP port; the UDP
// bind on the same number is what port 0 cannot promise.
func FreeLoopbackPort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no loopback port free for both TCP and UDP after 20 tries")
}
