// Package gossip is the root of the scriptling.net.gossip module: api.yaml
// describes the library, gen/ turns it into generated/ and docs/.
package gossip

//go:generate go run ./gen -spec api.yaml -out generated -docs docs
