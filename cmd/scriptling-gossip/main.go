// Command scriptling-gossip runs a Scriptling script with the standard library
// and scriptling.net.gossip registered:
//
//	scriptling-gossip [-v] FILE.py [ARGS...]
//	scriptling-gossip [-v] members [FLAGS] PEER...
//	scriptling-gossip [-v] -- FILE [ARGS...]
//
// "members" is a subcommand (members.go) that prints a running cluster's
// membership. A script file named "members" is run by putting "--" before
// it (or by giving a path such as ./members): only a first argument that is
// exactly "members", not after "--", selects the subcommand.
//
// An uncaught script error prints its message and exits 1. Ctrl-C (or SIGTERM)
// stops every running cluster cleanly, so peers see the node leave. The
// runner's own path is exported to scripts as $SCRIPTLING_GOSSIP_RUNNER so
// that they can start further nodes in separate processes.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/scriptling-contrib/gossip/host"
)

// runnerEnv names the environment variable holding this runner's path.
const runnerEnv = "SCRIPTLING_GOSSIP_RUNNER"

func main() { os.Exit(run()) }

// isMembersCommand reports whether the first of the nargs arguments left
// after the runner's flags (the tail of args) is the members subcommand:
// it is "members" and no "--" came before it.
func isMembersCommand(args []string, nargs int) bool {
	first := len(args) - nargs
	return args[first] == "members" && (first == 0 || args[first-1] != "--")
}

func run() int {
	verbose := flag.Bool("v", false, "log the library's debug messages to stderr")
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "usage: %[1]s [-v] FILE.py [ARGS...]\n"+
			"       %[1]s [-v] members [FLAGS] PEER...   print a cluster's membership (%[1]s members -h)\n"+
			"       %[1]s [-v] -- FILE [ARGS...]         run a script whatever its name (a file named members)\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		return 2
	}
	if isMembersCommand(os.Args[1:], flag.NArg()) {
		return runMembers(flag.Args()[1:], os.Stdout, os.Stderr, *verbose)
	}
	path := flag.Arg(0)
	source, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// Scripts that start more nodes in separate processes (examples/demo.py)
	// find this runner here.
	if os.Getenv(runnerEnv) == "" {
		if exe, err := os.Executable(); err == nil {
			os.Setenv(runnerEnv, exe)
		}
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-signals; ok {
			// Stopping the clusters first lets a script blocked in
			// cluster.wait() return; cancelling then ends evaluation.
			host.Shutdown()
			cancel()
		}
	}()

	p := host.New(host.Options{
		Argv:    append([]string{path}, flag.Args()[1:]...),
		Logger:  logger,
		LibDirs: []string{filepath.Dir(path)},
	})
	runErr := host.RunFile(ctx, p, path, source)
	signal.Stop(signals)
	host.Shutdown()
	if runErr != nil {
		fmt.Fprintln(os.Stderr, runErr)
		return 1
	}
	return 0
}
