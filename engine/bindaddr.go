package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Turning bind_addr and advertise_addr into IP addresses.
//
// memberlist hands a host name it cannot parse as an IP to its transport,
// which then listens on every interface and advertises the wildcard. So the
// engine resolves names itself:
//
//   - "", "0.0.0.0" and "::" (any unspecified address) mean every
//     interface. The node then advertises one address of the host of the
//     same family: that of the interface holding the default route, else of
//     the first usable interface that is up, else loopback. memberlist's
//     own choice could be of the other family, which a peer bound to one
//     address family cannot reach.
//   - A bind name resolves to the host's own addresses only (IPv4 preferred
//     when it has both), so "localhost" binds loopback and nothing else; a
//     name that does not resolve, or names no address of this host, is
//     refused.
//   - An advertise name only has to resolve (it may be a NAT or public
//     address), to the family the bind address serves.
//
// hostNetwork holds what is asked of the host, so tests can replace it.

// hostInterface is one network interface and its addresses.
type hostInterface struct {
	name     string
	up       bool
	loopback bool
	addrs    []net.IP
}

// hostNetwork is the view of the host's network used to resolve addresses.
type hostNetwork struct {
	lookupIP   func(ctx context.Context, host string) ([]net.IP, error)
	interfaces func() ([]hostInterface, error)
	// defaultRoute names the interface holding the default route of the
	// family (4 or 6), "" when there is none or it cannot be read.
	defaultRoute func(family int) string
}

// sysNet is the real host network; tests in this package swap it.
var sysNet = hostNetwork{lookupIP: lookupIPSystem, interfaces: interfacesSystem, defaultRoute: defaultRouteSystem}

// resolveTimeout bounds a name lookup in New.
const resolveTimeout = 10 * time.Second

// bindPlan is a resolved bind address.
type bindPlan struct {
	ip     net.IP // the address to listen on (unspecified for every interface)
	family int    // 4 or 6
}

// wildcard reports whether the plan listens on every interface.
func (b bindPlan) wildcard() bool { return b.ip.IsUnspecified() }

// listenAddr is the address handed to memberlist's transport.
func (b bindPlan) listenAddr() string { return b.ip.String() }

// familyOf is 4 for an IPv4 (or IPv4-mapped) address, else 6.
func familyOf(ip net.IP) int {
	if ip.To4() != nil {
		return 4
	}
	return 6
}

// resolveBind turns the host part of bind_addr into the address to listen
// on. value is the whole parameter, for error messages.
func (n hostNetwork) resolveBind(host, value string) (bindPlan, error) {
	if host == "" {
		return bindPlan{ip: net.IPv4zero.To4(), family: 4}, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return bindPlan{ip: normalise(ip), family: familyOf(ip)}, nil
		}
		if err := n.checkLocal([]net.IP{ip}, value, host); err != nil {
			return bindPlan{}, err
		}
		return bindPlan{ip: normalise(ip), family: familyOf(ip)}, nil
	}
	ips, err := n.resolve(host, "bind_addr", value)
	if err != nil {
		return bindPlan{}, err
	}
	ifs, err := n.interfaces()
	if err != nil {
		return bindPlan{}, fmt.Errorf("%w: bind_addr %q: cannot list this host's addresses: %v", ErrInvalidArgument, value, err)
	}
	local := slices.DeleteFunc(slices.Clone(ips), func(ip net.IP) bool { return !isLocal(ip, ifs) })
	if len(local) == 0 {
		return bindPlan{}, notLocalError(value, host, ips)
	}
	ip := preferFamily(local, 4)
	return bindPlan{ip: normalise(ip), family: familyOf(ip)}, nil
}

// checkLocal refuses a bind IP that is on none of the host's interfaces.
func (n hostNetwork) checkLocal(ips []net.IP, value, host string) error {
	ifs, err := n.interfaces()
	if err != nil {
		return fmt.Errorf("%w: bind_addr %q: cannot list this host's addresses: %v", ErrInvalidArgument, value, err)
	}
	if !isLocal(ips[0], ifs) {
		return notLocalError(value, host, ips)
	}
	return nil
}

func notLocalError(value, host string, ips []net.IP) error {
	what := "is"
	if net.ParseIP(host) == nil {
		what = "resolves to " + joinIPs(ips) + ", which is"
	}
	return fmt.Errorf("%w: bind_addr %q: %s %s not an address of this host (it is on no network interface); "+
		"bind to one of its addresses, or 0.0.0.0 for every interface", ErrInvalidArgument, value, host, what)
}

// resolveAdvertise turns the host part of advertise_addr into the address
// peers are told to use; it must be of a family the bind address serves.
// It is not checked against the host's interfaces: behind NAT the address
// peers reach is not one of them.
func (n hostNetwork) resolveAdvertise(host, value string, bind bindPlan) (net.IP, error) {
	if host == "" {
		return nil, fmt.Errorf("%w: advertise_addr %q: the host is missing; give the address peers should use", ErrInvalidArgument, value)
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		var err error
		if ips, err = n.resolve(host, "advertise_addr", value); err != nil {
			return nil, err
		}
	}
	if ips[0].IsUnspecified() {
		return nil, fmt.Errorf("%w: advertise_addr %q: %s means every interface and cannot be reached by peers; give the address peers should use",
			ErrInvalidArgument, value, host)
	}
	if bind.wildcard() {
		// A wildcard listener serves both families (Go listens dual-stack).
		return normalise(preferFamily(ips, bind.family)), nil
	}
	for _, ip := range ips {
		if familyOf(ip) == bind.family {
			return normalise(ip), nil
		}
	}
	return nil, fmt.Errorf("%w: advertise_addr %q: %s is IPv%d only, but bind_addr %s listens on IPv%d only",
		ErrInvalidArgument, value, host, familyOf(ips[0]), bind.ip, bind.family)
}

// resolve looks a host name up, refusing names that do not resolve.
func (n hostNetwork) resolve(host, param, value string) ([]net.IP, error) {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	ips, err := n.lookupIP(ctx, host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q: host name %q does not resolve: %v", ErrInvalidArgument, param, value, host, err)
	}
	return ips, nil
}

// wildcardAdvertise picks the address a node bound to every interface
// advertises: of the bind's family, on the default route's interface, else
// on the first usable interface that is up, else loopback.
func (n hostNetwork) wildcardAdvertise(family int) net.IP {
	fallback := net.IPv4(127, 0, 0, 1).To4()
	if family == 6 {
		fallback = net.IPv6loopback
	}
	ifs, err := n.interfaces()
	if err != nil {
		return fallback
	}
	if name := n.defaultRoute(family); name != "" {
		for _, ifc := range ifs {
			if ifc.name == name && ifc.up {
				if ip := usableAddr(ifc, family); ip != nil {
					return ip
				}
			}
		}
	}
	for _, ifc := range ifs {
		if ifc.up && !ifc.loopback {
			if ip := usableAddr(ifc, family); ip != nil {
				return ip
			}
		}
	}
	return fallback
}

// usableAddr is the first address of ifc of the family that a peer on
// another host could use: not loopback, not link-local (which needs a zone
// memberlist cannot carry), not unspecified or multicast.
func usableAddr(ifc hostInterface, family int) net.IP {
	for _, ip := range ifc.addrs {
		if familyOf(ip) == family && ip.IsGlobalUnicast() {
			return normalise(ip)
		}
	}
	return nil
}

// isLocal reports whether ip can be bound on this host: it is an interface
// address, or in the loopback range (Linux answers all of 127/8 on lo).
func isLocal(ip net.IP, ifs []hostInterface) bool {
	if ip.IsLoopback() {
		return true
	}
	for _, ifc := range ifs {
		for _, a := range ifc.addrs {
			if a.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// preferFamily returns the first address of the family, else the first.
func preferFamily(ips []net.IP, family int) net.IP {
	for _, ip := range ips {
		if familyOf(ip) == family {
			return ip
		}
	}
	return ips[0]
}

// normalise gives IPv4 addresses their 4-byte form, so they print and
// compare the way memberlist stores them.
func normalise(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}

// lookupIPSystem resolves with the system resolver. Names under .invalid
// never resolve (RFC 6761), so they are refused without a query.
func lookupIPSystem(ctx context.Context, host string) ([]net.IP, error) {
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "invalid" || strings.HasSuffix(h, ".invalid") {
		return nil, errors.New("names under .invalid never resolve (RFC 6761)")
	}
	return net.DefaultResolver.LookupIP(ctx, "ip", host)
}

// interfacesSystem lists the host's interfaces with their addresses.
func interfacesSystem() ([]hostInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]hostInterface, 0, len(ifs))
	for _, ifc := range ifs {
		h := hostInterface{name: ifc.Name, up: ifc.Flags&net.FlagUp != 0, loopback: ifc.Flags&net.FlagLoopback != 0}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				h.addrs = append(h.addrs, ipn.IP)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// Route flags from the kernel's route tables.
const (
	routeUp     = 0x0001
	routeReject = 0x0200
)

// defaultRouteSystem reads the kernel's routing table (Linux /proc/net/route
// and /proc/net/ipv6_route) for the interface of the default route with the
// lowest metric; elsewhere it finds none, and the first usable interface is
// taken instead.
func defaultRouteSystem(family int) string {
	if family == 6 {
		return defaultRouteIn("/proc/net/ipv6_route", parseIPv6Route)
	}
	return defaultRouteIn("/proc/net/route", parseIPv4Route)
}

// defaultRoute is one default route: its interface and metric.
type defaultRoute struct {
	iface  string
	metric uint64
}

// defaultRouteIn returns the interface of the best default route in file,
// whose lines parse turns into routes (ok false for any other line).
func defaultRouteIn(file string, parse func(line string) (defaultRoute, bool)) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	best, found := defaultRoute{}, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if r, ok := parse(sc.Text()); ok && (!found || r.metric < best.metric) {
			best, found = r, true
		}
	}
	return best.iface
}

// parseIPv4Route reads a /proc/net/route line: Iface Destination Gateway
// Flags RefCnt Use Metric Mask ..., numbers in hex.
func parseIPv4Route(line string) (defaultRoute, bool) {
	f := strings.Fields(line)
	if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
		return defaultRoute{}, false
	}
	flags, err1 := strconv.ParseUint(f[3], 16, 32)
	metric, err2 := strconv.ParseUint(f[6], 10, 32)
	if err1 != nil || err2 != nil || flags&routeUp == 0 || flags&routeReject != 0 {
		return defaultRoute{}, false
	}
	return defaultRoute{iface: f[0], metric: metric}, true
}

// parseIPv6Route reads a /proc/net/ipv6_route line: destination, prefix
// length, source, source prefix length, next hop, metric, refcount, use,
// flags, interface; numbers in hex.
func parseIPv6Route(line string) (defaultRoute, bool) {
	f := strings.Fields(line)
	if len(f) < 10 || strings.Trim(f[0], "0") != "" || f[1] != "00" {
		return defaultRoute{}, false
	}
	metric, err1 := strconv.ParseUint(f[5], 16, 32)
	flags, err2 := strconv.ParseUint(f[8], 16, 32)
	if err1 != nil || err2 != nil || flags&routeUp == 0 || flags&routeReject != 0 || f[9] == "lo" {
		return defaultRoute{}, false
	}
	return defaultRoute{iface: f[9], metric: metric}, true
}
