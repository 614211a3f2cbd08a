package netlab

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// created records every namespace and process the lab made, so that an
// interrupt (or a test whose cleanup never ran) still removes them.
var created = &resources{namespaces: map[string]bool{}, procs: map[*os.Process]bool{}}

type resources struct {
	mu         sync.Mutex
	namespaces map[string]bool
	procs      map[*os.Process]bool
}

func (r *resources) addNamespace(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.namespaces[name] = true
}

func (r *resources) dropNamespace(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.namespaces, name)
}

func (r *resources) addProc(p *os.Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.procs[p] = true
}

func (r *resources) dropProc(p *os.Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.procs, p)
}

// removeAll kills the recorded processes (SIGCONT first, in case one is
// stopped), then deletes the namespaces.
func (r *resources) removeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.procs {
		_ = p.Signal(syscall.SIGKILL)
		_ = p.Signal(syscall.SIGCONT)
		delete(r.procs, p)
	}
	for ns := range r.namespaces {
		deleteNamespace(ns)
		delete(r.namespaces, ns)
	}
}

// namespacePrefix starts the name of every namespace the lab creates; the
// creating test process's pid follows, so a sweep can tell a live run's
// namespaces from those of a run that was killed.
const namespacePrefix = "glab"

// sweepStaleNamespaces deletes the namespaces (and kills the processes in
// them) left by lab runs whose test process no longer exists.
func sweepStaleNamespaces() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		pid, ok := ownerPid(name)
		if !ok || processExists(pid) {
			continue
		}
		deleteNamespace(name)
	}
}

// ownerPid parses the pid out of a lab namespace name ("glab123n1-h4").
func ownerPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, namespacePrefix)
	if !ok {
		return 0, false
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[:end])
	return pid, err == nil
}

func processExists(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
