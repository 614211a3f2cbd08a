// Package bindrt is the runtime of the Scriptling bindings that gen writes:
// argument checking and conversion, errors in the shape scripts expect,
// conversion of Go values back to script objects, script callbacks that Go
// code calls later, and the bookkeeping of objects a runtime reset cleans up.
//
// It knows nothing of any particular library: everything specific to an
// api.yaml stays in the generated package, which imports this one. The
// package is versioned with the generator (see Version); it is not meant to
// be called by hand-written code, and its API changes whenever the
// generator needs it to.
package bindrt
