package testkit

import (
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// NewTeam starts a fake team domain that closes when the test ends.
func NewTeam(t testing.TB, opts ...accesstest.Option) *accesstest.Server {
	t.Helper()
	team := accesstest.NewServer(opts...)
	t.Cleanup(team.Close)
	return team
}

// Config is team's configuration with a quiet logger and the given clock (nil: real time).
//
// NewVerifier waits for the first key fetch to end, and a request that joins a key fetch
// waits for its end (Keys.StartupWait and Keys.FetchWait of a minute), so that what a test
// sees after a fetch does not depend on how loaded the machine is: a fetch from a healthy
// loopback server can outlast the default waits. Tests of the waits themselves, and of a
// team domain that never answers, set their own.
func Config(team *accesstest.Server, clk *Clock) core.Config {
	cfg := team.Config()
	cfg.Logger = QuietLogger()
	cfg.Keys.StartupWait = time.Minute
	cfg.Keys.FetchWait = time.Minute
	if clk != nil {
		cfg.Now = clk.Now
	}
	return cfg
}

// NewVerifier is core.NewVerifier(cfg), failing the test on an error.
func NewVerifier(t testing.TB, cfg core.Config) *core.Verifier {
	t.Helper()
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// Verifier is a verifier of team, configured by Config with real time.
func Verifier(t testing.TB, team *accesstest.Server) *core.Verifier {
	t.Helper()
	return NewVerifier(t, Config(team, nil))
}

// ClockedVerifier is a verifier of team, configured by Config with a Clock of its own, which
// it returns.
func ClockedVerifier(t testing.TB, team *accesstest.Server) (*core.Verifier, *Clock) {
	t.Helper()
	clk := NewClock()
	return NewVerifier(t, Config(team, clk)), clk
}

// TeamVerifier is NewTeam(t, opts...) and a Verifier of that team.
func TeamVerifier(t testing.TB, opts ...accesstest.Option) (*accesstest.Server, *core.Verifier) {
	t.Helper()
	team := NewTeam(t, opts...)
	return team, Verifier(t, team)
}
