package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scriptling-contrib/gossip/gen/golang"
	"github.com/scriptling-contrib/gossip/gen/spec"
)

// update rewrites the golden files: go test ./gen/... -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenCases are the specs under testdata/<case>/api.yaml whose output is
// kept in testdata/<case>/golden.
var goldenCases = []string{"minimal", "full"}

// goldenName is the name an output is stored under: Go files get .golden so
// that the go tool does not compile them.
func goldenName(o output) string {
	if o.Doc {
		return "docs.md.golden"
	}
	return o.Name + ".golden"
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			outs, err := render(filepath.Join("testdata", name, "api.yaml"), true)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", name, "golden")
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var want []string
			for _, o := range outs {
				path := filepath.Join(dir, goldenName(o))
				want = append(want, goldenName(o))
				if *update {
					if err := os.WriteFile(path, o.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				golden, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./gen/... -update)", err)
				}
				if !bytes.Equal(golden, o.Data) {
					t.Errorf("%s differs from the generated %s (run go test ./gen/... -update and review the diff):\n%s", path, o.Name, firstDiff(string(golden), string(o.Data)))
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if !slices.Contains(want, e.Name()) {
					t.Errorf("%s is no longer generated (run go test ./gen/... -update)", filepath.Join(dir, e.Name()))
				}
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n golden:    " + w + "\n generated: " + g
		}
	}
	return "(same lines, different bytes)"
}

// TestDeterministic checks that generating twice gives identical bytes.
func TestDeterministic(t *testing.T) {
	for _, path := range []string{"testdata/full/api.yaml", "../api.yaml"} {
		a, err := render(path, true)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			b, err := render(path, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != len(b) {
				t.Fatalf("%s: %d files, then %d", path, len(a), len(b))
			}
			for i := range a {
				if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
					t.Fatalf("%s: %s differs between two runs", path, a[i].Name)
				}
			}
		}
	}
}

// TestDrift checks that the committed generated/ and docs/ match api.yaml.
func TestDrift(t *testing.T) {
	outs, err := render("../api.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, o := range outs {
		path := filepath.Join("..", "generated", o.Name)
		if o.Doc {
			path = filepath.Join("..", "docs", o.Name)
		}
		want[path] = true
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go generate ./...)", err)
			continue
		}
		if !bytes.Equal(got, o.Data) {
			t.Errorf("%s is out of date (run go generate ./...):\n%s", path, firstDiff(string(got), string(o.Data)))
		}
	}
	entries, err := os.ReadDir(filepath.Join("..", "generated"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if path := filepath.Join("..", "generated", e.Name()); !want[path] {
			t.Errorf("%s is not generated from api.yaml: only generated files belong in generated/", path)
		}
	}
}

// TestCompile writes each golden case's output into testdata/<case>/build.tmp,
// a package of this module (directories named testdata are left out of
// ./... patterns and *.tmp is ignored by git), then vets it and runs the
// case's harness test (testdata/<case>/harness_test.go.txt) against the fake
// engine in testdata/<case>/fakeengine, including the allocation checks and
// the benchmarks.
func TestCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs generated packages")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go tool is needed to compile the generated code: ", err)
	}
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name, "build.tmp")
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := run(filepath.Join("testdata", name, "api.yaml"), dir, dir); err != nil {
				t.Fatal(err)
			}
			harness, err := os.ReadFile(filepath.Join("testdata", name, "harness_test.go.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "harness_test.go"), harness, 0o644); err != nil {
				t.Fatal(err)
			}
			pkg := "./" + filepath.ToSlash(dir) + "/"
			for _, args := range [][]string{
				{"vet", pkg},
				{"test", "-count=1", "-bench=.", "-benchtime=2000x", pkg},
			} {
				cmd := exec.Command(goTool, args...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				if args[0] == "test" {
					t.Logf("go %s:\n%s", strings.Join(args, " "), out)
				}
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestErrors loads every testdata/errors/<case>.yaml and compares the
// problems reported with <case>.err. The go_* cases are valid specs whose
// Go names do not match the Go packages they import.
func TestErrors(t *testing.T) {
	specs, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) == 0 {
		t.Fatal("no error cases")
	}
	for _, path := range specs {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := spec.Parse("api.yaml", data)
			if err == nil {
				// The spec itself is valid: the problems are on the Go side.
				err = golang.Check(s, loaderFor(filepath.Dir(path)))
			}
			if err == nil {
				t.Fatal("the spec was accepted")
			}
			got := err.Error() + "\n"
			errPath := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(errPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(errPath)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems reported:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestInvalidSpecWritesNothing checks that a spec with several problems
// reports all of them, sorted by position, writes no file and makes the
// command exit non-zero.
func TestInvalidSpecWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	out, docs := filepath.Join(tmp, "out"), filepath.Join(tmp, "docs")
	var stderr bytes.Buffer
	code := realMain([]string{"-spec", filepath.Join("testdata", "errors", "many.yaml"), "-out", out, "-docs", docs}, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, dir := range []string{out, docs} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s was created", dir)
		}
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) < 5 {
		t.Fatalf("want every problem reported, got:\n%s", stderr.String())
	}
	var problems spec.Errors
	for _, l := range lines {
		if !strings.HasPrefix(l, "many.yaml:") {
			t.Errorf("line %q does not start with the file name", l)
		}
		var p spec.Problem
		parts := strings.SplitN(l, ":", 4)
		if len(parts) != 4 {
			t.Fatalf("line %q is not file:line:col: message", l)
		}
		p.Pos.Line, p.Pos.Col = atoi(t, parts[1]), atoi(t, parts[2])
		problems = append(problems, p)
	}
	sorted := slices.IsSortedFunc(problems, func(a, b spec.Problem) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	if !sorted {
		t.Errorf("problems are not sorted by position:\n%s", stderr.String())
	}
}

func TestBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	if code := realMain([]string{"-nope"}, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGoMismatchWritesNothing checks that the command refuses a spec whose
// go: names do not match the Go package, before writing anything, and
// reports the problem at its api.yaml position.
func TestGoMismatchWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	var stderr bytes.Buffer
	code := realMain([]string{"-spec", filepath.Join("testdata", "errors", "go_function_name.yaml"), "-out", out, "-docs", out}, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s was created", out)
	}
	if want := "go_function_name.yaml:9:5: total(): go: engine.Totl is not declared"; !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr %q does not start with %q", stderr.String(), want)
	}
}
