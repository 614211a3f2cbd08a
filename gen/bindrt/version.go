package bindrt

// Version is the version of the contract between the generator and this
// package. The generator bumps it whenever generated code needs something
// this package did not offer before, or no longer offers something older
// generated code used.
const Version = 1

// SupportPackageIsVersion1 is referenced by code generated for Version 1.
// A generated package built against a runtime that does not support its
// version fails to compile on this name ("undefined:
// bindrt.SupportPackageIsVersionN"), rather than on some helper further in.
// Keep the names of the versions still supported when adding a new one.
const SupportPackageIsVersion1 = true
