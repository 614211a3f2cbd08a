package groups

import (
	"fmt"
	"strings"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/codec"
)

// Criteria select nodes by metadata: each entry maps a metadata key to an
// exact value, "*" (the key is present) or "~sub" (the value contains
// sub), and a node matches when it satisfies every entry. Leader election
// selects its eligible nodes with the same criteria.

// CheckCriteria validates criteria given as the parameter name: keys must
// not be empty.
func CheckCriteria(criteria map[string]string, name string) error {
	for k := range criteria {
		if k == "" {
			return fmt.Errorf("%w: %s keys must not be empty", engine.ErrInvalidArgument, name)
		}
	}
	return nil
}

// Match reports whether metadata satisfies every criterion. Non-string
// values match by their text ("3", "2.5", "true").
func Match(criteria map[string]string, metadata map[string]any) bool {
	for k, want := range criteria {
		v, ok := metadata[k]
		if !ok {
			return false
		}
		got := codec.Text(v)
		switch {
		case want == "*":
		case strings.HasPrefix(want, "~"):
			if !strings.Contains(got, want[1:]) {
				return false
			}
		case got != want:
			return false
		}
	}
	return true
}

// Counted reports whether n counts for criteria: it matches them and is
// not an observer, which groups and elections never count.
func Counted(criteria map[string]string, n engine.Node) bool {
	return !n.Observer && Match(criteria, n.Metadata)
}
