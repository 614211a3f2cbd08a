package netlab

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
)

// firewall is the network a host sees. Rules on traffic into the host live
// in the host's namespace (input hook); rules on traffic out of it live on
// its bridge port (netdev ingress in the bridge's namespace), so a dropped
// outgoing packet is lost on the wire, as on a real network, rather than
// refused to the sender with EPERM as an output-hook drop would be.
type firewall struct {
	lossIn, lossOut int             // percent of packets dropped at random
	lossTCP         bool            // loss applies to TCP as well as UDP
	deafTo          map[string]bool // source addresses whose packets never arrive
}

// SetLoss drops in and out percent of the host's incoming and outgoing UDP
// packets (and TCP segments when tcp is set) at random.
func (h *Host) SetLoss(in, out int, tcp bool) {
	h.lab.t.Helper()
	h.fw.lossIn, h.fw.lossOut, h.fw.lossTCP = in, out, tcp
	h.applyFirewall()
}

// Partition cuts every path between a and b in both directions.
func (l *Lab) Partition(a, b []*Host) {
	l.t.Helper()
	for _, x := range a {
		for _, y := range b {
			x.deafen(y)
			y.deafen(x)
		}
	}
	for _, h := range append(append([]*Host{}, a...), b...) {
		h.applyFirewall()
	}
}

// BlockOneWay drops everything from sends to on arrival; to's packets to
// from still flow.
func (l *Lab) BlockOneWay(from, to *Host) {
	l.t.Helper()
	to.deafen(from)
	to.applyFirewall()
}

// Heal removes every partition and all loss.
func (l *Lab) Heal() {
	l.t.Helper()
	for _, h := range l.all {
		h.fw = firewall{}
		h.applyFirewall()
	}
}

func (h *Host) deafen(from *Host) {
	if h.fw.deafTo == nil {
		h.fw.deafTo = map[string]bool{}
	}
	h.fw.deafTo[from.IP] = true
}

// applyFirewall replaces the host's rules with those of h.fw, in one nft
// transaction per namespace.
func (h *Host) applyFirewall() {
	h.lab.t.Helper()
	if err := nft(h.NS, h.inputRules()); err != nil {
		h.lab.t.Fatalf("%s: %v", h.Name, err)
	}
	if err := nft(h.lab.bridgeNS, h.portRules()); err != nil {
		h.lab.t.Fatalf("%s: %v", h.Name, err)
	}
}

// inputRules filter what reaches the host through eth0.
func (h *Host) inputRules() string {
	var rules []string
	if len(h.fw.deafTo) > 0 {
		var srcs []string
		for ip := range h.fw.deafTo {
			srcs = append(srcs, ip)
		}
		sort.Strings(srcs)
		rules = append(rules, fmt.Sprintf(`iifname "eth0" ip saddr { %s } drop`, strings.Join(srcs, ", ")))
	}
	rules = append(rules, lossRules(`iifname "eth0" `, h.fw.lossIn, h.fw.lossTCP)...)
	return replaceTable("inet", "netlab", "input", "type filter hook input priority 0; policy accept;", rules)
}

// portRules filter what the host sends, where it enters the bridge.
func (h *Host) portRules() string {
	rules := lossRules("", h.fw.lossOut, h.fw.lossTCP)
	hook := fmt.Sprintf(`type filter hook ingress device %q priority 0; policy accept;`, h.Port)
	return replaceTable("netdev", h.Port, "out", hook, rules)
}

// lossRules drop percent of UDP (and TCP) packets at random.
func lossRules(match string, percent int, tcp bool) []string {
	if percent <= 0 {
		return nil
	}
	protos := []string{"udp"}
	if tcp {
		protos = append(protos, "tcp")
	}
	var rules []string
	for _, p := range protos {
		rules = append(rules, fmt.Sprintf("%smeta l4proto %s numgen random mod 100 < %d drop", match, p, percent))
	}
	return rules
}

// replaceTable is an nft script that deletes the table (creating it first so
// that the delete cannot fail) and defines it anew with one chain.
func replaceTable(family, table, chain, hook string, rules []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s {}\ndelete table %s %s\n", family, table, family, table)
	fmt.Fprintf(&b, "table %s %s {\n\tchain %s {\n\t\t%s\n", family, table, chain, hook)
	for _, r := range rules {
		fmt.Fprintf(&b, "\t\t%s\n", r)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// nft applies script inside namespace ns.
func nft(ns, script string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s\nscript:\n%s", ns, err, out, script)
	}
	return nil
}
