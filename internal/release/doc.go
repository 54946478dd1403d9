// Command release releases the library modules of this repository together: it lists them,
// sets the version at which every go.mod requires them, checks that the checkout can be
// released, prints or makes the tags, publishes the modules into a file:// module proxy,
// and proves that a fresh module outside the repository resolves, builds and serves with
// them. RELEASING.md says when to run what.
//
//	go run ./internal/release check
//	go run ./internal/release smoke
package main
