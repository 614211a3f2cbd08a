package netlab

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// The lab's addresses: host i is <subnet>.(hostOctetBase+i) in a /24 that
// exists only on the lab's bridge. Only addresses of namespaces the lab
// created are ever targeted.
const (
	// privateSubnet is the lab's usual range (RFC 1918).
	privateSubnet = "10.213.0."
	// documentationSubnet (TEST-NET-2, RFC 5737) is reserved for
	// documentation and never used on a real network: a host with only such
	// an IPv4 address has no "private" IPv4 address for a wildcard bind to
	// fall back on. TEST-NET-2 rather than TEST-NET-1 because some CI
	// machines number their own interface from TEST-NET-1.
	documentationSubnet = "198.51.100."
	subnetBits          = "/24"
	hostOctetBase       = 10
	strangerOctet       = 200
	// gossipPort is every host's port: hosts are separate machines, so
	// they all use the same well-known port, as a deployment would.
	gossipPort = 7946
)

// labSeq numbers the labs of one test run, so their namespaces differ.
var labSeq atomic.Int32

// Lab is K hosts (namespaces) on one bridge, plus optionally a stranger.
type Lab struct {
	t        *testing.T
	name     string // namespace name prefix of this lab: glab<pid>n<seq>
	bridgeNS string
	subnet   string  // privateSubnet or documentationSubnet
	dir      string  // logs and control files
	Hosts    []*Host // the cluster's hosts
	all      []*Host // the cluster's hosts and any stranger
}

// newLab creates k hosts joined by a bridge; t.Cleanup removes everything.
func newLab(t *testing.T, k int) *Lab {
	t.Helper()
	return newLabOn(t, k, privateSubnet)
}

// newLabOn is newLab with the hosts' addresses in subnet.
func newLabOn(t *testing.T, k int, subnet string) *Lab {
	t.Helper()
	requireLab(t)
	l := &Lab{
		t:      t,
		name:   fmt.Sprintf("%s%dn%d", namespacePrefix, os.Getpid(), labSeq.Add(1)),
		subnet: subnet,
		dir:    t.TempDir(),
	}
	l.bridgeNS = l.name + "-br"
	t.Cleanup(l.close)
	if err := addNamespace(l.bridgeNS); err != nil {
		t.Fatal(err)
	}
	if err := addBridge(l.bridgeNS); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < k; i++ {
		l.Hosts = append(l.Hosts, l.addHost(fmt.Sprintf("h%02d", i), hostOctetBase+i))
	}
	return l
}

// addHost creates one host namespace plugged into the bridge.
func (l *Lab) addHost(name string, octet int) *Host {
	l.t.Helper()
	h := &Host{
		lab:  l,
		Name: name,
		NS:   l.name + "-" + name,
		Port: "v" + name,
		IP:   fmt.Sprintf("%s%d", l.subnet, octet),
		obs:  &observer{},
	}
	if err := addNamespace(h.NS); err != nil {
		l.t.Fatal(err)
	}
	if err := plugHost(l.bridgeNS, h.Port, h.NS, h.IP+subnetBits); err != nil {
		l.t.Fatal(err)
	}
	l.all = append(l.all, h)
	return h
}

// AddIPv6 gives every host a unique-local IPv6 address besides its IPv4
// one, as on a dual-stack machine: a wildcard bind must still advertise an
// address of the family its peers use.
func (l *Lab) AddIPv6() {
	l.t.Helper()
	for i, h := range l.Hosts {
		if err := addAddress(h.NS, fmt.Sprintf("fd00:213::%d/64", hostOctetBase+i)); err != nil {
			l.t.Fatal(err)
		}
	}
}

// addStranger creates a host outside the cluster, for traffic no member
// would send.
func (l *Lab) addStranger() *Host {
	l.t.Helper()
	return l.addHost("stranger", strangerOctet)
}

// close stops every process and deletes the namespaces; on failure it first
// prints the tail of each host's log.
func (l *Lab) close() {
	for _, h := range l.all {
		h.stopProcess()
	}
	if l.t.Failed() {
		for _, h := range l.all {
			l.t.Logf("---- %s (%s) log tail:\n%s", h.Name, h.IP, tail(h.logPath(), 30))
		}
	}
	for _, h := range l.all {
		deleteNamespace(h.NS)
	}
	deleteNamespace(l.bridgeNS)
}

// Addrs lists the hosts' gossip addresses.
func (l *Lab) Addrs(hosts []*Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Addr()
	}
	return out
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
