package engine

import (
	"crypto/rand"
	"encoding/hex"
)

// sessionIDLen is the size of a reliable session id on the wire.
const sessionIDLen = 16

// sessionID names one sequence of reliable messages from one sender run to
// one destination run.
type sessionID [sessionIDLen]byte

// newSessionID returns a random session id. It comes from crypto/rand, not
// the clock: a node restarted with the same node id after its clock stepped
// back must never reuse an id its peers still remember, or they would drop
// its messages as duplicates. 128 random bits make a collision negligible.
func newSessionID() sessionID {
	var s sessionID
	_, _ = rand.Read(s[:]) // crypto/rand.Read never fails (Go 1.24+); a zero id would still work once
	return s
}

// String is the id in hex, for logs.
func (s sessionID) String() string { return hex.EncodeToString(s[:]) }
