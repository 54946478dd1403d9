package testkit

import (
	"os"
	"slices"
	"strings"
)

// EnvWithout is the test's environment, as KEY=value entries, without the entries that
// start with one of prefixes: a process started with it sees only what the test adds.
func EnvWithout(prefixes ...string) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(kv, p) })
	})
}
