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
// Library modules in the top-level cmd/ directory are command modules, which users go
// install (go install example.com/x/cmd/tool@vX.Y.Z). go install refuses a module whose
// go.mod has a replace directive, so a command module has none: it requires the library
// modules at the version being released and, inside the repository, builds against their
// directories through go.work, with no go.sum line for them. Taken on its own (to check it
// is tidy, to run its tests, to install it) it is built against the library modules as
// committed, published to a temporary module proxy at that version.
//
// Modules are discovered from git (tracked and untracked, not ignored), never listed by
// hand: a module added to the repository is released, checked and published with the rest.
// Directories that the go command ignores (testdata, vendor, names starting with "." or
// "_") hold no modules of the repository.
package modset
