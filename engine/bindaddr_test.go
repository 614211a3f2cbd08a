package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeHost is a host with eth0 (IPv4, ULA IPv6 and link-local addresses,
// the default route of both families), a down interface, loopback, and a
// resolver that knows a few names.
func fakeHost() hostNetwork {
	ifs := []hostInterface{
		{name: "lo", up: true, loopback: true, addrs: ips("127.0.0.1", "::1")},
		{name: "down0", up: false, addrs: ips("10.9.0.1")},
		{name: "eth0", up: true, addrs: ips("fe80::fc:ff:fe00:1", "fd00::2", "192.0.2.2")},
		{name: "eth1", up: true, addrs: ips("198.18.0.5")},
	}
	names := map[string][]net.IP{
		"localhost":   ips("::1", "127.0.0.1"), // IPv6 first: IPv4 must still win
		"me.example":  ips("192.0.2.2"),
		"far.example": ips("203.0.113.9"),
		"nat.example": ips("198.51.100.7", "2001:db8::7"),
		"v6.example":  ips("2001:db8::8"),
	}
	return hostNetwork{
		lookupIP: func(_ context.Context, host string) ([]net.IP, error) {
			if a, ok := names[host]; ok {
				return a, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		interfaces:   func() ([]hostInterface, error) { return ifs, nil },
		defaultRoute: func(int) string { return "eth0" },
	}
}

func ips(s ...string) []net.IP {
	out := make([]net.IP, len(s))
	for i, a := range s {
		out[i] = net.ParseIP(a)
	}
	return out
}

// withHost runs the test with sysNet replaced by h.
func withHost(t *testing.T, h hostNetwork) {
	t.Helper()
	saved := sysNet
	sysNet = h
	t.Cleanup(func() { sysNet = saved })
}

// addrsOf validates cfg and returns what memberlist would be told to bind
// and advertise.
func addrsOf(t *testing.T, bind, advertise string) (string, string, error) {
	t.Helper()
	c, err := New(Config{BindAddr: bind, AdvertiseAddr: advertise, NodeID: "x"})
	if err != nil {
		return "", "", err
	}
	mc, err := c.memberlistConfig()
	if err != nil {
		t.Fatal(err)
	}
	return mc.BindAddr, joinHostPort(mc.AdvertiseAddr, uint16(mc.AdvertisePort)), nil
}

func TestBindAddrResolution(t *testing.T) {
	withHost(t, fakeHost())
	for _, tc := range []struct {
		name, bind, advertise string
		wantBind, wantAdv     string
	}{
		{"localhost binds IPv4 loopback only", "localhost:7000", "", "127.0.0.1", "127.0.0.1:7000"},
		{"name of a local address", "me.example:7000", "", "192.0.2.2", "192.0.2.2:7000"},
		{"explicit IPv4 address", "192.0.2.2:7000", "", "192.0.2.2", "192.0.2.2:7000"},
		{"explicit IPv6 address", "[fd00::2]:7000", "", "fd00::2", "[fd00::2]:7000"},
		{"any loopback address", "127.0.0.2:7000", "", "127.0.0.2", "127.0.0.2:7000"},
		{"IPv4 wildcard advertises the default route's IPv4", "0.0.0.0:7000", "", "0.0.0.0", "192.0.2.2:7000"},
		{"empty host is the IPv4 wildcard", ":7000", "", "0.0.0.0", "192.0.2.2:7000"},
		{"IPv6 wildcard advertises a global IPv6, not link-local", "[::]:7000", "", "::", "[fd00::2]:7000"},
		{"advertise a NAT name, IPv4 for an IPv4 bind", "192.0.2.2:7000", "nat.example:9000", "192.0.2.2", "198.51.100.7:9000"},
		{"advertise a NAT name, IPv6 for an IPv6 bind", "[fd00::2]:7000", "nat.example:9000", "fd00::2", "[2001:db8::7]:9000"},
		{"advertise port 0 takes the bind port", "0.0.0.0:7000", "nat.example:0", "0.0.0.0", "198.51.100.7:7000"},
		{"advertise IPv6 behind an IPv4 wildcard (dual-stack)", "0.0.0.0:7000", "v6.example:7000", "0.0.0.0", "[2001:db8::8]:7000"},
		{"advertise a literal", "localhost:7000", "203.0.113.1:7001", "127.0.0.1", "203.0.113.1:7001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bind, adv, err := addrsOf(t, tc.bind, tc.advertise)
			if err != nil {
				t.Fatalf("bind %q advertise %q: %v", tc.bind, tc.advertise, err)
			}
			if bind != tc.wantBind || adv != tc.wantAdv {
				t.Fatalf("bind %q advertise %q: binds %s and advertises %s, want %s and %s",
					tc.bind, tc.advertise, bind, adv, tc.wantBind, tc.wantAdv)
			}
		})
	}
}

func TestBindAddrRefused(t *testing.T) {
	withHost(t, fakeHost())
	for _, tc := range []struct {
		name, bind, advertise string
		want                  []string
	}{
		{"unresolvable bind name", "no.such.host:0", "", []string{"bind_addr", `"no.such.host:0"`, "does not resolve", "no such host"}},
		{"bind name of another host", "far.example:0", "", []string{"bind_addr", `"far.example:0"`, "resolves to 203.0.113.9", "not an address of this host"}},
		{"bind address of another host", "203.0.113.9:0", "", []string{"bind_addr", `"203.0.113.9:0"`, "203.0.113.9 is not an address of this host"}},
		{"bind address next to an interface's", "10.9.0.2:0", "", []string{"bind_addr", "not an address of this host"}},
		{"unresolvable advertise name", "127.0.0.1:0", "nowhere.example:0", []string{"advertise_addr", `"nowhere.example:0"`, "does not resolve"}},
		{"advertise a wildcard", "127.0.0.1:0", "0.0.0.0:7000", []string{"advertise_addr", "every interface"}},
		{"advertise IPv6 only for an IPv4 bind", "127.0.0.1:0", "v6.example:0", []string{"advertise_addr", "IPv6 only", "IPv4 only"}},
		{"advertise without host", "127.0.0.1:0", ":7000", []string{"advertise_addr", "host is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := addrsOf(t, tc.bind, tc.advertise)
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("bind %q advertise %q: got %v, want ErrInvalidArgument", tc.bind, tc.advertise, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestWildcardAdvertiseFallbacks(t *testing.T) {
	h := fakeHost()
	h.defaultRoute = func(int) string { return "" }
	if got := h.wildcardAdvertise(4).String(); got != "192.0.2.2" {
		t.Errorf("no default route, IPv4: advertises %s, want the first usable up interface's 192.0.2.2", got)
	}
	h.defaultRoute = func(int) string { return "eth1" }
	if got := h.wildcardAdvertise(4).String(); got != "198.18.0.5" {
		t.Errorf("default route on eth1: advertises %s, want 198.18.0.5", got)
	}
	if got := h.wildcardAdvertise(6).String(); got != "fd00::2" {
		t.Errorf("default route on eth1 (no IPv6 there): advertises %s, want fd00::2 of the first usable interface", got)
	}
	h.interfaces = func() ([]hostInterface, error) {
		return []hostInterface{{name: "lo", up: true, loopback: true, addrs: ips("127.0.0.1", "::1")}}, nil
	}
	if got := h.wildcardAdvertise(4).String(); got != "127.0.0.1" {
		t.Errorf("loopback only, IPv4: advertises %s, want 127.0.0.1", got)
	}
	if got := h.wildcardAdvertise(6).String(); got != "::1" {
		t.Errorf("loopback only, IPv6: advertises %s, want ::1", got)
	}
}

func TestDefaultRouteParsing(t *testing.T) {
	v4 := []struct {
		line string
		want string
	}{
		{"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0", "eth0"},
		{"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0", ""},     // not default
		{"wg0\t00000000\t00000000\t0200\t0\t0\t0\t00000000\t0\t0\t0", ""},      // not up
		{"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask", ""}, // header
	}
	for _, tc := range v4 {
		r, ok := parseIPv4Route(tc.line)
		if got := map[bool]string{true: r.iface}[ok]; got != tc.want {
			t.Errorf("parseIPv4Route(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	v6 := []struct {
		line string
		want string
	}{
		{"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0", "eth0"},
		{"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo", ""},
		{"fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0", ""},
	}
	for _, tc := range v6 {
		r, ok := parseIPv6Route(tc.line)
		if got := map[bool]string{true: r.iface}[ok]; got != tc.want {
			t.Errorf("parseIPv6Route(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestLocalhostBindsLoopbackOnly binds "localhost:0" on the real host: the
// node advertises 127.0.0.1, logs it, and the kernel's socket tables show
// its TCP and UDP sockets bound to 127.0.0.1 only, never to a wildcard. The
// tables are read rather than probed so that no traffic goes to any address
// but loopback.
func TestLocalhostBindsLoopbackOnly(t *testing.T) {
	var logBuf lockedBuffer
	cfg := testConfig("loopback-only")
	cfg.BindAddr = "localhost:0"
	cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := startNode(t, cfg)
	addr := c.LocalNode().Addr
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("localhost:0 advertises %q, want 127.0.0.1:<port>", addr)
	}
	if log := logBuf.String(); !strings.Contains(log, "msg=advertising") || !strings.Contains(log, "bind=localhost:0") || !strings.Contains(log, "addr="+addr) {
		t.Errorf("start did not log the advertised address at Info; log:\n%s", log)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("cannot connect to the node on loopback: %v", err)
	}
	_ = conn.Close()

	port, _ := strconv.Atoi(portStr)
	for _, table := range []string{"tcp", "udp", "tcp6", "udp6"} {
		for _, local := range socketsOnPort(t, "/proc/net/"+table, port) {
			if local != "0100007F" {
				t.Errorf("a node bound to localhost has a %s socket on local address %s (hex), want 127.0.0.1 only", table, local)
			}
		}
	}
	if n := len(socketsOnPort(t, "/proc/net/tcp", port)) + len(socketsOnPort(t, "/proc/net/udp", port)); n < 2 {
		t.Errorf("found %d of the node's TCP and UDP sockets on port %d in /proc/net, want both", n, port)
	}
}

// socketsOnPort returns the hex local addresses of the sockets in a
// /proc/net table (tcp, udp, tcp6, udp6) whose local port is port.
func socketsOnPort(t *testing.T, table string, port int) []string {
	t.Helper()
	data, err := os.ReadFile(table)
	if os.IsNotExist(err) {
		return nil // no IPv6 on this host
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, p, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(p, 16, 16); err == nil && int(v) == port {
			out = append(out, ip)
		}
	}
	return out
}

// TestWildcardAdvertisesOwnFamily starts nodes on the real host's IPv4 and
// IPv6 wildcards: each advertises an address of its own family.
func TestWildcardAdvertisesOwnFamily(t *testing.T) {
	for _, tc := range []struct {
		bind   string
		family int
	}{{"0.0.0.0:0", 4}, {"[::]:0", 6}} {
		cfg := testConfig("wild-" + tc.bind)
		cfg.BindAddr = tc.bind
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			if tc.family == 6 {
				t.Logf("this host cannot listen on IPv6 (%v): the IPv6 wildcard was not checked", err)
				continue
			}
			t.Fatal(err)
		}
		addr := c.LocalNode().Addr
		c.stop(false)
		host, _, _ := net.SplitHostPort(addr)
		ip := net.ParseIP(host)
		if ip == nil || ip.IsUnspecified() || familyOf(ip) != tc.family {
			t.Errorf("%s advertises %s, want an IPv%d address of this host", tc.bind, addr, tc.family)
		}
	}
}

// TestUnresolvableBindRefusedByNew uses the real resolver: a name under
// .invalid is refused at New, without a query, naming the parameter.
func TestUnresolvableBindRefusedByNew(t *testing.T) {
	_, err := New(Config{BindAddr: "no.such.host.invalid:0"})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), `bind_addr "no.such.host.invalid:0"`) ||
		!strings.Contains(err.Error(), "does not resolve") {
		t.Fatalf("New(bind_addr=no.such.host.invalid:0) = %v, want ErrInvalidArgument naming bind_addr and why", err)
	}
}
