package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestScripts runs every tests/scripts/test_*.py; each asserts its own
// behaviour across real nodes and ends by printing "<name> ok".
func TestScripts(t *testing.T) {
	paths, err := filepath.Glob("scripts/test_*.py")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "test_"), ".py")
		t.Run(name, func(t *testing.T) {
			r := runScript(t, path)
			requireOK(t, r, name+" ok")
		})
	}
}
