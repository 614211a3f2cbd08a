package golang

import (
	"errors"
	"fmt"
	"go/types"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
)

// checkStd are the standard packages whose types the generated code names
// itself (context.Context, time.Duration, the logger given to a config).
var checkStd = []string{"context", "time", "log/slog"}

// Loader loads the types of Go packages, each once however often it is
// asked for: loading runs the go tool, which costs far more than
// generating, and one process (a test run, say) checks many specs.
type Loader struct {
	dir  string
	mu   sync.Mutex
	pkgs map[string]*types.Package
	errs map[string]error
}

// NewLoader returns a Loader resolving import paths as the go tool does in
// dir, which must be inside the module the spec's imports belong to.
func NewLoader(dir string) *Loader {
	return &Loader{dir: dir, pkgs: map[string]*types.Package{}, errs: map[string]error{}}
}

// load returns the packages at paths, loading those not loaded yet in one
// go tool run. A path that cannot be loaded, or does not compile, is
// missing from the result and has an error in the second one.
func (l *Loader) load(paths []string) (map[string]*types.Package, map[string]error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing []string
	for _, p := range paths {
		if _, ok := l.pkgs[p]; !ok && l.errs[p] == nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		cfg := &packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: l.dir}
		loaded, err := packages.Load(cfg, missing...)
		if err != nil {
			for _, p := range missing {
				l.errs[p] = err
			}
		}
		for _, pkg := range loaded {
			key := pkg.PkgPath
			if key == "" {
				key = pkg.ID
			}
			var errs []error
			for _, e := range pkg.Errors {
				// The go tool's advice on what to run next is not for us.
				msg, _, _ := strings.Cut(e.Msg, "\n")
				errs = append(errs, errors.New(strings.TrimSuffix(msg, "; to add it:")))
			}
			if len(errs) > 0 || pkg.Types == nil {
				l.errs[key] = fmt.Errorf("does not load: %w", errors.Join(errs...))
				continue
			}
			l.pkgs[key] = pkg.Types
		}
		for _, p := range missing {
			if l.pkgs[p] == nil && l.errs[p] == nil {
				l.errs[p] = errors.New("not found")
			}
		}
	}
	pkgs, errs := map[string]*types.Package{}, map[string]error{}
	for _, p := range paths {
		if pkg, ok := l.pkgs[p]; ok {
			pkgs[p] = pkg
		} else {
			errs[p] = l.errs[p]
		}
	}
	return pkgs, errs
}
