package testkit

import "testing"

// SkipAllocsUnderRace skips a test that counts allocations of code that uses a sync.Pool,
// as fiber does for its contexts: under the race detector, the pool drops a quarter of what
// is put back, at random, so the count is noise. Each module's tests without -race (CI runs
// them too) hold the bound.
func SkipAllocsUnderRace(t testing.TB) {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts are noise under the race detector: sync.Pool drops what is put back at random")
	}
}
