package bindrt

import (
	"slices"
	"testing"

	"github.com/paularlott/scriptling/extlibs"
)

// TestResetList checks that a runtime reset cleans up each tracked value
// once, that a reset empties the list, and that the list must be armed
// again (as Register does) after each reset.
func TestResetList(t *testing.T) {
	var r ResetList[string]
	var cleaned []string
	cleanup := func(s string) { cleaned = append(cleaned, s) }
	r.Arm(cleanup)
	r.Arm(cleanup) // a second Register before the reset adds nothing
	r.Track("a")
	r.Track("b")
	r.Track("a")
	extlibs.ResetRuntime()
	if !slices.Equal(cleaned, []string{"a", "b"}) {
		t.Fatalf("first reset cleaned %v, want [a b]", cleaned)
	}
	cleaned = nil
	r.Track("c")
	extlibs.ResetRuntime() // not armed again: the reset does not know the list
	if len(cleaned) != 0 {
		t.Fatalf("an unarmed list was cleaned: %v", cleaned)
	}
	r.Arm(cleanup)
	extlibs.ResetRuntime()
	if !slices.Equal(cleaned, []string{"c"}) {
		t.Fatalf("after arming again, the reset cleaned %v, want [c]", cleaned)
	}
}
