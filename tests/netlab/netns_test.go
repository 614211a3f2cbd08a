package netlab

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// ip runs `ip args...` and returns its error with the command's output.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// addNamespace creates a namespace with its loopback up and records it.
func addNamespace(name string) error {
	if err := ip("netns", "add", name); err != nil {
		return err
	}
	created.addNamespace(name)
	return ip("-n", name, "link", "set", "lo", "up")
}

// deleteNamespace kills whatever still runs inside the namespace, then
// deletes it (which also removes its veth ends and its bridge).
func deleteNamespace(name string) {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for _, field := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(field); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		}
	}
	_ = ip("netns", "delete", name)
	created.dropNamespace(name)
}

// addBridge creates the bridge "br0" in namespace ns.
func addBridge(ns string) error {
	if err := ip("-n", ns, "link", "add", "br0", "type", "bridge"); err != nil {
		return err
	}
	return ip("-n", ns, "link", "set", "br0", "up")
}

// plugHost joins host namespace hostNS to the bridge in bridgeNS with a veth
// pair (port in the bridge namespace, eth0 in the host) and gives eth0 addr
// (CIDR notation).
func plugHost(bridgeNS, port, hostNS, addr string) error {
	steps := [][]string{
		{"-n", bridgeNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", hostNS},
		{"-n", bridgeNS, "link", "set", port, "master", "br0"},
		{"-n", bridgeNS, "link", "set", port, "up"},
		{"-n", hostNS, "addr", "add", addr, "dev", "eth0"},
		{"-n", hostNS, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// addAddress gives the host's eth0 one more address (CIDR notation).
func addAddress(hostNS, addr string) error {
	return ip("-n", hostNS, "addr", "add", addr, "dev", "eth0", "nodad")
}
