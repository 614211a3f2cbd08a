// Package fakeengine is the Go API the minimal test library binds.
package fakeengine

import (
	"fmt"
	"log/slog"
	"time"
)

// Options configures Connect.
type Options struct {
	Host    string
	Port    int
	Secure  bool
	Timeout time.Duration
	Weight  float64
	Logger  *slog.Logger
}

// Connect describes the options it got.
func Connect(o Options) string {
	if o.Logger != nil {
		o.Logger.Info("connect", "host", o.Host)
	}
	return fmt.Sprintf("%s:%d secure=%v timeout=%v weight=%v", o.Host, o.Port, o.Secure, o.Timeout, o.Weight)
}
