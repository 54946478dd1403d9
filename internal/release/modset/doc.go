// Package modset finds the Go modules of a checkout of this repository and does what
// releasing them takes.
//
// The repository holds one root module and modules nested below it. Every module outside
// examples/ and internal/ is a library module: all of them are released together, at one
// version, tagged "vX.Y.Z" for the root and "<dir>/vX.Y.Z" for a nested module. Inside the
// repository each go.mod requires its sibling library modules at the version being released
// and replaces them with their directories; a replace is ignored downstream, so the required
// version is what a user's go get resolves.
//
// Modules are discovered from git (tracked and untracked, not ignored), never listed by
// hand: a module added to the repository is released, checked and published with the rest.
// Directories that the go command ignores (testdata, vendor, names starting with "." or
// "_") hold no modules of the repository.
package modset
