package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptling-contrib/gossip/engine"
)

func TestIsMembersCommand(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		nargs int // arguments left after the runner's flags
		want  bool
	}{
		{[]string{"members", "127.0.0.1:7946"}, 2, true},
		{[]string{"-v", "members", "127.0.0.1:7946"}, 2, true},
		{[]string{"--", "members"}, 1, false},
		{[]string{"-v", "--", "members", "x"}, 2, false},
		{[]string{"./members"}, 1, false},
		{[]string{"script.py", "members"}, 2, false},
	} {
		if got := isMembersCommand(tc.args, tc.nargs); got != tc.want {
			t.Errorf("isMembersCommand(%q, %d) = %v, want %v", tc.args, tc.nargs, got, tc.want)
		}
	}
}

func TestReadSecretTrimsOneNewline(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"key":     "key",
		"key\n":   "key",
		"key\r\n": "key",
		"key\n\n": "key\n",
		" key \n": " key ",
	} {
		path := filepath.Join(dir, "secret")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readSecret(path, "-key-file"); err != nil || got != want {
			t.Errorf("readSecret(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
	if _, err := readSecret(filepath.Join(dir, "missing"), "-token-file"); err == nil || !strings.HasPrefix(err.Error(), "-token-file: ") {
		t.Errorf("missing file: %v, want an error naming -token-file", err)
	}
}

// The table is the one examples/demo.py prints: padded columns two
// spaces apart, trailing spaces trimmed, values as Scriptling's str().
func TestWriteTable(t *testing.T) {
	nodes := []engine.Node{
		{ID: "hybrid-1", Addr: "127.0.0.1:40001", State: "alive", Tags: []string{"web", "worker"},
			Metadata: map[string]any{"role": "general", "load": 0.42, "big": 1e6, "n": int64(3), "ok": true}},
		{ID: "db-1", Addr: "10.0.0.7:7946", State: "dead"},
	}
	var b strings.Builder
	if err := writeTable(&b, nodes); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID        ADDR             STATE  TAGS        METADATA\n" +
		"hybrid-1  127.0.0.1:40001  alive  web,worker  big=1e+06, load=0.42, n=3, ok=true, role=general\n" +
		"db-1      10.0.0.7:7946    dead\n"
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteJSONHasEveryKey(t *testing.T) {
	var b strings.Builder
	if err := writeJSON(&b, []engine.Node{{ID: "a", Addr: "127.0.0.1:1", State: "alive"}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id": "a"`, `"tags": []`, `"metadata": {}`, `"app_version": ""`, `"observer": false`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("JSON lacks %s:\n%s", key, b.String())
		}
	}
}

// A peer may publish floats JSON cannot hold; -json still prints every
// node, with those values as the table's text, nested ones included.
func TestWriteJSONNonFiniteFloats(t *testing.T) {
	meta := map[string]any{"load": math.NaN(), "up": math.Inf(1), "deep": map[string]any{"l": []any{math.Inf(-1), 1.5}}}
	var b strings.Builder
	if err := writeJSON(&b, []engine.Node{{ID: "a", Metadata: meta}}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b.String())
	}
	m := got[0]["metadata"].(map[string]any)
	if m["load"] != "NaN" || m["up"] != "+Inf" || fmt.Sprint(m["deep"]) != "map[l:[-Inf 1.5]]" {
		t.Fatalf("metadata %v", m)
	}
	if !math.IsNaN(meta["load"].(float64)) {
		t.Fatal("the node's own metadata was changed")
	}
}

func TestJoinErrorIsShortened(t *testing.T) {
	err := fmt.Errorf("%w: could not join any of a:1, b:2: 2 errors occurred: * failed to join a:1: refused * failed to join b:2: refused", engine.ErrJoinFailed)
	want := "could not join any of a:1, b:2: failed to join a:1: refused; failed to join b:2: refused"
	if got := joinError(err).Error(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := joinError(errors.New("x")).Error(); got != "x" {
		t.Fatalf("got %q", got)
	}
}

// An observer of a cluster on loopback listens on loopback only.
func TestDefaultBindFollowsTheRouteToThePeer(t *testing.T) {
	got, err := defaultBind("127.0.0.1:7946")
	if err != nil || got != "127.0.0.1:0" {
		t.Fatalf("defaultBind(127.0.0.1:7946) = %q, %v; want 127.0.0.1:0", got, err)
	}
	if got, err := defaultBind("[::1]:7946"); err == nil && got != "[::1]:0" {
		t.Fatalf("defaultBind([::1]:7946) = %q, want [::1]:0", got)
	}
}

func TestMembersUsage(t *testing.T) {
	var out, errs strings.Builder
	if code := runMembers([]string{"-h"}, &out, &errs, false); code != 0 || errs.Len() != 0 {
		t.Fatalf("-h: exit %d, stderr %q", code, errs.String())
	}
	for _, flag := range []string{"-bind", "-advertise", "-key-file", "-token-file", "-app-version", "-json", "-timeout"} {
		if !strings.Contains(out.String(), "\n  "+flag+" ") && !strings.Contains(out.String(), "\n  "+flag+"\n") {
			t.Errorf("-h does not document %s:\n%s", flag, out.String())
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give at least one PEER"},
		{[]string{"nohost"}, `PEER must be "host:port", got "nohost"`},
		{[]string{"-timeout", "0s", "127.0.0.1:1"}, "-timeout must be positive"},
		{[]string{"-bogus", "127.0.0.1:1"}, "flag provided but not defined: -bogus"},
	} {
		var out, errs strings.Builder
		if code := runMembers(tc.args, &out, &errs, false); code != 2 || out.Len() != 0 || !strings.Contains(errs.String(), tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out.String(), errs.String(), tc.want)
		}
	}
}
