package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

// roleEnv, when set, makes the test binary play a helper process instead
// of running tests: the lab re-executes itself for the CPU burner and for
// the stranger that floods a node, so that both are plain processes it can
// place in a namespace and kill by pid.
const roleEnv = "NETLAB_ROLE"

const (
	roleBurn  = "burn"  // keep every core busy until killed
	roleFlood = "flood" // send forged datagrams to os.Args[1] until killed
	// roleConnFlood holds idle and half-handshaken TCP connections to
	// os.Args[1] until killed (connflood_test.go).
	roleConnFlood = "connflood"
)

func runRole(role string) int {
	switch role {
	case roleBurn:
		burn()
	case roleFlood:
		if len(os.Args) < 2 {
			fmt.Fprintln(os.Stderr, "flood: want the target address as the argument")
			return 2
		}
		if err := flood(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "flood:", err)
			return 1
		}
	case roleConnFlood:
		if len(os.Args) < 2 {
			fmt.Fprintln(os.Stderr, "connflood: want the target address as the argument")
			return 2
		}
		connFlood(os.Args[1])
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: unknown role\n", roleEnv, role)
		return 2
	}
	return 0
}

// burn spins one goroutine per core forever.
func burn() {
	n := runtime.NumCPU()
	runtime.GOMAXPROCS(n)
	for i := 0; i < n-1; i++ {
		go spin()
	}
	spin()
}

func spin() {
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 0 {
			runtime.Gosched()
		}
	}
}

// startBurner runs the CPU burner in the root namespace until the test ends.
func startBurner(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleBurn)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the CPU burner: %v", err)
	}
	created.addProc(cmd.Process)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		created.dropProc(cmd.Process)
	})
}

// StartFlood makes this host (the stranger) flood target with forged
// memberlist datagrams until the lab closes.
func (h *Host) StartFlood(target string) {
	h.lab.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		h.lab.t.Fatal(err)
	}
	h.start("env", roleEnv+"="+roleFlood, exe, target)
}
