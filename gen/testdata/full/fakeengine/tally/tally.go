// Package tally is a feature built on fakeengine's Counter, as a feature
// package is built on an engine: the generator binds its functions as
// Counter methods (go: tally.Watched) and attaches Watch to every counter
// open_counter makes.
package tally

import (
	"context"
	"sync"

	engine "github.com/scriptling-contrib/gossip/gen/testdata/full/fakeengine"
)

var (
	mu      sync.Mutex
	watched = map[*engine.Counter]bool{}
)

// Watch marks c as watched; open_counter attaches it.
func Watch(c *engine.Counter) {
	mu.Lock()
	watched[c] = true
	mu.Unlock()
}

// Watched reports whether Watch saw c.
func Watched(c *engine.Counter) bool {
	mu.Lock()
	defer mu.Unlock()
	return watched[c]
}

// Scaled is c's value times by; it takes the context first, the counter
// second, as a function standing for a method with context: true does.
func Scaled(ctx context.Context, c *engine.Counter, by int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return c.Value() * by, nil
}
