// Command gen reads an api.yaml library description, validates it and writes
// the Scriptling binding (Go) and its markdown reference.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/scriptling-contrib/gossip/gen/golang"
	"github.com/scriptling-contrib/gossip/gen/markdown"
	"github.com/scriptling-contrib/gossip/gen/spec"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stderr))
}

// realMain parses the command line, runs the generator and returns the exit
// code: 0 on success, 1 when the spec is invalid or writing failed, 2 for a
// bad command line. Problems are printed to stderr, one per line.
func realMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "api.yaml", "library description to read")
	out := fs.String("out", "generated", "directory for the generated Go package")
	docs := fs.String("docs", "docs", "directory for the generated markdown reference (empty: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := run(*specPath, *out, *docs); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// run validates everything and renders everything before writing anything.
func run(specPath, out, docs string) error {
	files, err := render(specPath, docs != "")
	if err != nil {
		return err
	}
	for _, f := range files {
		dir := out
		if f.Doc {
			dir = docs
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// output is one file to write: a Go file of the package, or the reference.
type output struct {
	Name string
	Data []byte
	Doc  bool
}

var (
	loadersMu sync.Mutex
	loaders   = map[string]*golang.Loader{}
)

// loaderFor returns the one Loader of dir for the life of the process, so
// that each Go package is loaded once however many specs are checked.
func loaderFor(dir string) *golang.Loader {
	loadersMu.Lock()
	defer loadersMu.Unlock()
	if loaders[dir] == nil {
		loaders[dir] = golang.NewLoader(dir)
	}
	return loaders[dir]
}

// render loads the spec and returns every output file, without writing.
func render(specPath string, withDocs bool) ([]output, error) {
	s, err := spec.Load(specPath)
	if err != nil {
		return nil, err
	}
	if err := golang.Check(s, loaderFor(filepath.Dir(specPath))); err != nil {
		return nil, err
	}
	files, err := golang.Generate(s)
	if err != nil {
		return nil, err
	}
	var outs []output
	for _, f := range files {
		outs = append(outs, output{Name: f.Name, Data: f.Data})
	}
	if withDocs {
		outs = append(outs, output{Name: markdown.FileName(s), Data: markdown.Generate(s), Doc: true})
	}
	return outs, nil
}
