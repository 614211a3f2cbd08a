package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/scriptling-contrib/gossip/engine"
)

// The members subcommand: join a cluster as an observer, print its
// membership, leave.
//
// The observer is a full memberlist member for a few seconds (it has to
// be, to receive the node table and everyone's metadata), announced as an
// observer in its node header: peers list it with "observer": True, and
// leader elections and node groups never count it (engine/observer.go).

const membersUsage = `usage: %[1]s [-v] members [flags] PEER...

Joins the cluster reached at PEER ("host:port"; several may be given, the
first that answers is used) as a short-lived observer, waits until its view
settles, prints the membership and leaves gracefully. The observer is
never counted by leader elections or node groups; peers see it with
"observer": True in their node dicts while it runs, then "leaving".

Exit status: 0 when the membership was printed, 1 when no peer answered or
the peers refused the observer (wrong key, token or app version), 2 for bad
usage. -v before "members" logs the library's debug messages to stderr.

Secrets are read from files only, never from the command line, where other
users of the host could read them.

Flags:
`

// membersOptions are the parsed flags of the members subcommand.
type membersOptions struct {
	bind, advertise    string
	keyFile, tokenFile string
	appVersion         string
	json               bool
	timeout            time.Duration
	verbose            bool
	peers              []string
	stdout, stderr     io.Writer
}

// Settling: the view is taken as complete once every alive member's
// metadata has arrived and the set of members and their states has not
// changed for settleFor, a few gossip rounds of the LAN profile (200 ms).
const (
	settleFor  = 800 * time.Millisecond
	settlePoll = 50 * time.Millisecond
)

// runMembers runs the subcommand with args (after "members") and returns
// the exit status.
func runMembers(args []string, stdout, stderr io.Writer, verbose bool) int {
	o, status := parseMembers(args, stdout, stderr)
	if o == nil {
		return status
	}
	o.verbose = verbose
	if err := o.run(); err != nil {
		fmt.Fprintln(stderr, "members: "+oneLine(err.Error()))
		return 1
	}
	return 0
}

// parseMembers parses the flags; a nil result comes with the exit status.
func parseMembers(args []string, stdout, stderr io.Writer) (*membersOptions, int) {
	o := &membersOptions{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("members", flag.ContinueOnError)
	// -h prints to stdout (it was asked for), errors to stderr.
	var msgs strings.Builder
	fs.SetOutput(&msgs)
	fs.StringVar(&o.bind, "bind", "", "`ADDR` the observer listens on, \"host:port\" (default: the local address of the route to the first PEER, port 0 for a free one; so 127.0.0.1 for a cluster on loopback)")
	fs.StringVar(&o.advertise, "advertise", "", "`ADDR` peers should use to reach the observer, \"host:port\", e.g. behind NAT; port 0 means the bound port (default: the bind address)")
	fs.StringVar(&o.keyFile, "key-file", "", "read the cluster's encryption key (16, 24 or 32 bytes) from `FILE`; one trailing newline is ignored")
	fs.StringVar(&o.tokenFile, "token-file", "", "read the cluster's bearer token from `FILE`; one trailing newline is ignored")
	fs.StringVar(&o.appVersion, "app-version", "", "application `VERSION` to announce; it must be compatible with the cluster's")
	fs.BoolVar(&o.json, "json", false, "print a JSON array of node objects instead of a table (metadata floats that JSON cannot hold, NaN and infinities, as the strings \"NaN\", \"+Inf\", \"-Inf\")")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "longest `DURATION` (e.g. 5s) to join and wait for the view to settle; the membership known then is printed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), membersUsage, commandName())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, msgs.String())
			return nil, 0
		}
		io.WriteString(stderr, msgs.String())
		return nil, 2
	}
	fs.SetOutput(stderr)
	o.peers = fs.Args()
	if len(o.peers) == 0 {
		fmt.Fprintln(stderr, "members: give at least one PEER (\"host:port\")")
		fs.Usage()
		return nil, 2
	}
	for _, p := range o.peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			fmt.Fprintf(stderr, "members: PEER must be \"host:port\", got %q\n", p)
			return nil, 2
		}
	}
	if o.timeout <= 0 {
		fmt.Fprintf(stderr, "members: -timeout must be positive, got %v\n", o.timeout)
		return nil, 2
	}
	return o, 0
}

// run joins, waits for the view to settle, prints it and leaves.
func (o *membersOptions) run() error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	c, err := engine.New(cfg)
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	// Stop leaves gracefully: peers record the observer as "leaving".
	defer c.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if _, err := c.Join(ctx, o.peers); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no peer of %s answered within %v", strings.Join(o.peers, ", "), o.timeout)
		}
		return joinError(err)
	}
	if !waitSettled(ctx, c) {
		fmt.Fprintf(o.stderr, "members: the view had not settled after %v; printing it as it is\n", o.timeout)
	}
	o.warnUnreachable(c)
	nodes := listedNodes(c)
	if o.json {
		return writeJSON(o.stdout, nodes)
	}
	return writeTable(o.stdout, nodes)
}

// joinError shortens a failed join's message to the peers and
// memberlist's reason for each (which names a wrong key, a missing key, a
// refused token or version): the engine's error carries memberlist's
// multi-error list, whose "N errors occurred" and bullets say nothing.
func joinError(err error) error {
	msg := strings.TrimPrefix(err.Error(), engine.ErrJoinFailed.Error()+": ")
	msg = errorCount.ReplaceAllString(msg, "")
	msg = strings.ReplaceAll(oneLine(msg), ": * ", ": ")
	return errors.New(strings.ReplaceAll(msg, " * ", "; "))
}

// errorCount is the header of memberlist's multi-error list.
var errorCount = regexp.MustCompile(`\d+ errors? occurred:\s*`)

// config is the observer's engine configuration.
func (o *membersOptions) config() (engine.Config, error) {
	cfg := engine.Config{
		BindAddr:      o.bind,
		AdvertiseAddr: o.advertise,
		NodeID:        observerID(),
		AppVersion:    o.appVersion,
		Observer:      true,
	}
	var err error
	if cfg.BindAddr == "" {
		if cfg.BindAddr, err = defaultBind(o.peers[0]); err != nil {
			return cfg, err
		}
	}
	if o.keyFile != "" {
		if cfg.EncryptionKey, err = readSecret(o.keyFile, "-key-file"); err != nil {
			return cfg, err
		}
		if n := len(cfg.EncryptionKey); n != 16 && n != 24 && n != 32 {
			return cfg, fmt.Errorf("-key-file %s: the key must be 16, 24 or 32 bytes, the file holds %d", o.keyFile, n)
		}
	}
	if o.tokenFile != "" {
		if cfg.BearerToken, err = readSecret(o.tokenFile, "-token-file"); err != nil {
			return cfg, err
		}
		if cfg.BearerToken == "" {
			return cfg, fmt.Errorf("-token-file %s: the file is empty", o.tokenFile)
		}
	}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg, nil
}

// readSecret reads a key or token file, without one trailing newline
// ("\n" or "\r\n"), so that `echo KEY > file` works.
func readSecret(path, flagName string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", flagName, err)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// observerID names the observer so that peers' logs say what it was.
func observerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "members-" + host + "-" + hex.EncodeToString(b[:])
}

// oneLine folds an error message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// commandName is how the runner was invoked, for usage lines.
func commandName() string {
	if len(os.Args) > 0 && os.Args[0] != "" {
		return os.Args[0]
	}
	return "scriptling-gossip"
}
