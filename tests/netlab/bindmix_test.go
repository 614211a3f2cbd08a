package netlab

import (
	"testing"
	"time"
)

// TestBindMix: hosts bound to 0.0.0.0 and hosts bound to their own address
// form one cluster, and every host advertises (and is known by) its IPv4 lab
// address: a wildcard bind must not advertise an address peers cannot use.
// The hosts are dual-stack as in the field: a documentation-range IPv4
// address (not RFC 1918) plus an IPv6 unique-local one, the combination in
// which memberlist's private-address fallback picks the IPv6 address.
func TestBindMix(t *testing.T) {
	l := newLabOn(t, 6, documentationSubnet)
	l.AddIPv6()
	configure := func(h *Host) NodeConfig {
		cfg := nodeConfig(h, l.Hosts[:1])
		if h.IP[len(h.IP)-1]%2 == 0 { // every other host binds the wildcard
			cfg.Bind = "0.0.0.0:7946"
		}
		return cfg
	}
	took := startCluster(l, l.Hosts, configure, 60*time.Second)

	wrong := 0
	for _, h := range l.Hosts {
		s, _ := h.Last()
		if s.Addr != h.Addr() {
			wrong++
			t.Errorf("%s (bound %s) advertises %s, want %s", h.Name, configure(h).Bind, s.Addr, h.Addr())
		}
		for _, g := range l.Hosts {
			if got := s.Members[g.Name].Addr; got != g.Addr() {
				wrong++
				t.Errorf("%s knows %s at %s, want %s", h.Name, g.Name, got, g.Addr())
			}
		}
	}
	t.Logf("SUMMARY bind mix: %d hosts (3 on 0.0.0.0, 3 on their address) converged in %v; wrong addresses: %d",
		len(l.Hosts), took.Round(time.Millisecond), wrong)
}
