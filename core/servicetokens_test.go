package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

const (
	deployID = "0123456789abcdef0123456789abcdef.access"
	rotated  = "fedcba9876543210fedcba9876543210.access"
)

// TestServiceTokenNames: a service token named in Config.ServiceTokenNames carries its name
// on its caller, and a policy by name admits it under either of its client IDs, so that
// rotating the token changes the configuration only; a user, an unnamed token, or a name not
// listed, is refused.
func TestServiceTokenNames(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.ServiceTokenNames = map[string]string{deployID: "ci-deploy", " " + rotated + " ": " ci-deploy "}
	v := testkit.NewVerifier(t, cfg)
	policy := core.NamedServiceTokens("ci-deploy")

	for _, tc := range []struct {
		name, token, want string
		allowed           bool
	}{
		{"named", srv.ServiceToken(deployID), "ci-deploy", true},
		{"the rotated client ID", srv.ServiceToken(rotated), "ci-deploy", true},
		{"unnamed", srv.ServiceToken(""), "", false},
		{"a user", srv.User("ann@example.com"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Authenticate(context.Background(), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ServiceTokenName(); got != tc.want {
				t.Errorf("ServiceTokenName() = %q, want %q", got, tc.want)
			}
			if ok, err := policy.Allow(context.Background(), c); ok != tc.allowed || err != nil {
				t.Errorf("NamedServiceTokens allows = %v, %v; want %v", ok, err, tc.allowed)
			}
			if ok, _ := core.NamedServiceTokens("another").Allow(context.Background(), c); ok {
				t.Error("a name not listed allows")
			}
		})
	}
	if got := core.NewCaller(&core.Claims{CommonName: deployID}, nil).ServiceTokenName(); got != "" {
		t.Errorf("a caller verified nowhere has name %q", got)
	}
}

// TestServiceTokenNamesConfig: keys are client IDs and names are not blank.
func TestServiceTokenNamesConfig(t *testing.T) {
	for name, names := range map[string]map[string]string{
		"a client secret for a client ID": {"0123456789abcdef": "x"},
		"a blank client ID":               {" ": "x"},
		"a blank name":                    {deployID: " "},
		"a name with a newline":           {deployID: "ci\ndeploy"},
		"a list in one key":               {deployID + "," + rotated: "x"},
	} {
		cfg := offlineConfig("myteam", "aud")
		cfg.ServiceTokenNames = names
		if err := cfg.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: Validate() = %v, want a configuration error", name, err)
		}
	}
	if err := core.NamedServiceTokens().Err(); err == nil {
		t.Error("NamedServiceTokens() with no name is no mistake")
	}
	if err := core.NamedServiceTokens(" ").Err(); err == nil {
		t.Error("a blank name is no mistake")
	}
}
