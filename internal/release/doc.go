// Command release releases the library modules of this repository together: it lists them,
// sets the version at which every go.mod requires them, checks that the checkout can be
// released, prints or makes the tags, publishes the modules into a file:// module proxy,
// and proves that a fresh module outside the repository resolves, builds and serves with
// them, and that every command installs and runs. Command modules (below cmd/), which have no
// replace directive, it tidies and tests on their own against the modules so published.
// RELEASING.md says when to run what.
//
//	go run ./internal/release check
//	go run ./internal/release smoke
package main
