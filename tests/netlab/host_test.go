package netlab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Host is one namespace of the lab and the node process running in it.
type Host struct {
	lab  *Lab
	Name string // also the node id
	NS   string
	Port string // its veth port on the bridge
	IP   string
	fw   firewall
	obs  *observer

	mu   sync.Mutex
	proc *process
	cfg  NodeConfig
	runs int
}

// Addr is the host's gossip address.
func (h *Host) Addr() string { return h.IP + ":" + strconv.Itoa(gossipPort) }

func (h *Host) logPath() string     { return filepath.Join(h.lab.dir, h.Name+".log") }
func (h *Host) controlPath() string { return filepath.Join(h.lab.dir, h.Name+".control.json") }

// process is one run of a command inside a host's namespace.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // the exit status, after done
}

// StartNode runs node.py with cfg in the host.
func (h *Host) StartNode(cfg NodeConfig) {
	h.lab.t.Helper()
	h.mu.Lock()
	h.cfg = cfg
	h.mu.Unlock()
	h.start(runnerPath, filepath.Join(scriptsDir, "node.py"), cfg.scriptArg(h.Name, h.controlPath()))
}

// Restart SIGKILLs the node and starts it again with the same id, address
// and configuration.
func (h *Host) Restart() {
	h.lab.t.Helper()
	h.Kill()
	h.mu.Lock()
	cfg := h.cfg
	h.mu.Unlock()
	h.StartNode(cfg)
}

// start runs argv inside the namespace; the lines on its stdout go to the
// host's observer, its stderr to the host's log.
func (h *Host) start(argv ...string) {
	h.lab.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc != nil {
		h.lab.t.Fatalf("%s: a process is already running", h.Name)
	}
	h.runs++
	run := h.runs
	log, err := os.OpenFile(h.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		h.lab.t.Fatal(err)
	}
	fmt.Fprintf(log, "==== run %d at %s: %v\n", run, time.Now().Format(time.StampMilli), argv)
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	cmd.Stderr = log
	// The node dies with the test process, even when it is killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.lab.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.lab.t.Fatalf("%s: starting the node: %v", h.Name, err)
	}
	created.addProc(cmd.Process)
	p := &process{cmd: cmd, done: make(chan struct{})}
	h.proc = p
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			h.obs.add(sc.Text(), run)
		}
		_, _ = io.Copy(io.Discard, out)
		p.err = cmd.Wait()
		created.dropProc(cmd.Process)
		fmt.Fprintf(log, "==== run %d ended: %v\n", run, p.err)
		log.Close()
		close(p.done)
	}()
}

// Kill sends SIGKILL (no leave, no cleanup in the process) and reaps it.
func (h *Host) Kill() {
	h.lab.t.Helper()
	if err := h.stopProcess(); err != nil {
		h.lab.t.Fatalf("%s: %v", h.Name, err)
	}
}

// stopProcess kills the host's process, if any, and waits until it is reaped.
func (h *Host) stopProcess() error {
	h.mu.Lock()
	p := h.proc
	h.proc = nil
	h.mu.Unlock()
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once continued
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("process %d not reaped 10s after SIGKILL", p.cmd.Process.Pid)
	}
}

// Pause stops the process with SIGSTOP: it keeps its sockets but runs no
// code, as in a long GC pause, a VM migration or a debugger stop.
func (h *Host) Pause() { h.signal(syscall.SIGSTOP) }

// Resume continues a paused process.
func (h *Host) Resume() { h.signal(syscall.SIGCONT) }

func (h *Host) signal(sig syscall.Signal) {
	h.lab.t.Helper()
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		h.lab.t.Fatalf("%s: no process to signal", h.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		h.lab.t.Fatalf("%s: %v: %v", h.Name, sig, err)
	}
}

// Exited reports whether the current process ended on its own, and how.
func (h *Host) Exited() (bool, error) {
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		return false, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Wait waits up to timeout for the current process to end by itself and
// returns its exit error; it fails the test when the process is still running.
func (h *Host) Wait(timeout time.Duration) error {
	h.lab.t.Helper()
	h.mu.Lock()
	p := h.proc
	h.mu.Unlock()
	if p == nil {
		h.lab.t.Fatalf("%s: no process", h.Name)
	}
	select {
	case <-p.done:
		h.mu.Lock()
		h.proc = nil
		h.mu.Unlock()
		return p.err
	case <-time.After(timeout):
		h.lab.t.Fatalf("%s: still running after %v", h.Name, timeout)
		return nil
	}
}
