// Package host embeds Scriptling with its standard library and the
// scriptling.net.gossip library, the way a Go program using this library would.
// The command-line runner and the script-level tests share it, so what the
// tests prove is what users run.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/paularlott/scriptling"
	"github.com/paularlott/scriptling/extlibs"
	"github.com/paularlott/scriptling/libloader"
	"github.com/paularlott/scriptling/object"
	"github.com/paularlott/scriptling/stdlib"

	"github.com/scriptling-contrib/gossip/generated"
)

// Options configures an interpreter.
type Options struct {
	// Argv is exposed to the script as sys.argv (Argv[0] is the script path).
	Argv []string
	// Stdout receives print output; nil leaves Scriptling's default (os.Stdout).
	Stdout io.Writer
	// Logger receives the library's logs; nil discards them.
	Logger *slog.Logger
	// LibDirs are searched, in order, for modules the script imports
	// (`import helpers` loads helpers.py); the script's own folder is usual.
	LibDirs []string
}

// New returns an interpreter with the standard library, sys, os, subprocess
// and scriptling.net.gossip registered.
func New(opts Options) *scriptling.Scriptling {
	p := scriptling.New()
	stdlib.RegisterAll(p)
	extlibs.RegisterSysLibrary(p, opts.Argv, nil)
	extlibs.RegisterOSLibrary(p, nil)
	extlibs.RegisterSubprocessLibrary(p)
	generated.Register(p, opts.Logger)
	if len(opts.LibDirs) > 0 {
		p.SetLibraryLoader(libloader.NewMultiFilesystem(opts.LibDirs...))
	}
	if opts.Stdout != nil {
		p.SetOutputWriter(opts.Stdout)
	}
	return p
}

// ErrExit reports a script that called sys.exit with a non-zero code.
var ErrExit = errors.New("script exited")

// RunFile evaluates the script at path. A script error is returned with its
// message; ctx cancellation stops the evaluation.
func RunFile(ctx context.Context, p *scriptling.Scriptling, path string, source []byte) error {
	p.SetSourceFile(path)
	p.SetObjectVar("__file__", object.NewString(path))
	p.SetObjectVar("__name__", object.NewString("__main__"))
	result, err := p.EvalWithContext(ctx, string(source))
	if ex, ok := result.(*object.Exception); ok && ex.IsSystemExit() {
		if code := ex.GetExitCode(); code != 0 {
			return fmt.Errorf("%w with code %d", ErrExit, code)
		}
		return nil
	}
	return err
}

// Shutdown stops every cluster a script left running (and whatever else the
// runtime registered for cleanup).
func Shutdown() { extlibs.ResetRuntime() }
