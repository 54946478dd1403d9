package core_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// offlineConfig is the configuration of team and audiences for a verifier that must not
// reach the network: its calls to the team domain fail at once, and it does not wait for keys.
func offlineConfig(team string, audiences ...string) core.Config {
	return core.Config{
		TeamDomain: team,
		Audiences:  audiences,
		Keys:       core.KeyConfig{StartupWait: core.None},
		HTTPClient: &http.Client{Transport: offline{}},
		Logger:     testkit.QuietLogger(),
	}
}

// offline is a transport that fails every request at once, without touching the network.
type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
}

// failsClosed authenticates tok with v and holds its caller to p while get-identity is down:
// p must refuse, 503 identity_unavailable, never allow. It returns the refusal.
func failsClosed(t *testing.T, v *core.Verifier, p core.Policy, tok string) *core.Error {
	t.Helper()
	ctx := context.Background()
	caller, err := v.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := p.Allow(ctx, caller)
	if ok {
		t.Fatal("allowed during an outage")
	}
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
	return core.AsError(err)
}

// mustVerify fails the test unless v verifies tok; what, when not empty, names the token in
// the failure.
func mustVerify(t testing.TB, v *core.Verifier, tok, what string) *core.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		if what != "" {
			t.Fatalf("%s: %v", what, err)
		}
		t.Fatal(err)
	}
	return c
}

// groupsFrom is a verifier of team, configured by testkit.Config, that reads groups from src.
func groupsFrom(t testing.TB, team *accesstest.Server, src core.GroupSource) *core.Verifier {
	t.Helper()
	cfg := testkit.Config(team, nil)
	cfg.Groups = src
	return testkit.NewVerifier(t, cfg)
}
