// Package docs holds the tests that keep the repository's documentation honest: every
// exported name of a library package has a doc comment, and every Go snippet of the READMEs
// compiles as shown. It has no code of its own.
package docs
