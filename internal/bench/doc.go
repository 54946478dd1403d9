// Package bench measures cfaccess against the libraries people use for the same job, and
// each adapter against its framework without authentication. It is a module of its own so
// that the peers it compares with never become dependencies of cfaccess. See BENCHMARKS.md
// at the repository root for the command, the numbers and what they mean.
package bench
