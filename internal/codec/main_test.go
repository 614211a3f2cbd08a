package codec

import (
	"testing"

	"go.uber.org/goleak"
)

// The codec starts no goroutines; this keeps it that way.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
