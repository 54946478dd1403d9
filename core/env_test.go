package core_test

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
)

// setEnv sets the three variables ConfigFromEnv reads, until the test ends; ConfigFromEnv
// reads an empty one as unset.
func setEnv(t *testing.T, team, aud, hostAud string) {
	t.Setenv(core.EnvTeamDomain, team)
	t.Setenv(core.EnvAudiences, aud)
	t.Setenv(core.EnvHostAudiences, hostAud)
}

// unsetenv removes name from the environment until the test ends.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // restores the variable after the test
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name          string
		team, aud, ha string
		wantTeam      string
		wantAuds      []string
		wantHosts     map[string][]string
	}{
		{name: "team name and one AUD", team: "myteam", aud: "aud1",
			wantTeam: "myteam", wantAuds: []string{"aud1"}},
		{name: "white space around everything", team: "  https://myteam.cloudflareaccess.com/\n", aud: " aud1 \n",
			wantTeam: "https://myteam.cloudflareaccess.com/", wantAuds: []string{"aud1"}},
		{name: "several AUDs, comma-separated", team: "myteam.cloudflareaccess.com", aud: "aud1, aud2 ,aud3",
			wantTeam: "myteam.cloudflareaccess.com", wantAuds: []string{"aud1", "aud2", "aud3"}},
		{name: "empty items of the list", team: "myteam", aud: ",aud1,,aud2,",
			wantTeam: "myteam", wantAuds: []string{"aud1", "aud2"}},
		{name: "host pairs only", team: "myteam", ha: "wiki.example.com=aud1, admin.example.com=aud2",
			wantTeam: "myteam", wantHosts: map[string][]string{"wiki.example.com": {"aud1"}, "admin.example.com": {"aud2"}}},
		{name: "host pairs separated by white space, a host listed twice", team: "myteam",
			ha:       "wiki.example.com=aud1\n  admin.example.com=aud2\tadmin.example.com=aud3",
			wantTeam: "myteam", wantHosts: map[string][]string{"wiki.example.com": {"aud1"}, "admin.example.com": {"aud2", "aud3"}}},
		{name: "wildcard host and a fallback AUD", team: "myteam", aud: "aud0", ha: "*.tenant.example.com=aud1",
			wantTeam: "myteam", wantAuds: []string{"aud0"}, wantHosts: map[string][]string{"*.tenant.example.com": {"aud1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.team, tc.aud, tc.ha)
			cfg, err := core.ConfigFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TeamDomain != strings.TrimSpace(tc.wantTeam) || !slices.Equal(cfg.Audiences, tc.wantAuds) ||
				!maps.EqualFunc(cfg.HostAudiences, tc.wantHosts, slices.Equal) {
				t.Fatalf("ConfigFromEnv = %q %q %q; want %q %q %q", cfg.TeamDomain, cfg.Audiences, cfg.HostAudiences,
					tc.wantTeam, tc.wantAuds, tc.wantHosts)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("the Config read does not validate: %v", err)
			}
		})
	}
}

// TestConfigFromEnvErrors: every mistake wraps ErrConfig and names the variable to fix.
func TestConfigFromEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		team, aud, ha string
		variable      string
		mention       string // besides the variable
	}{
		{"nothing set", "", "", "", core.EnvTeamDomain, "not set"},
		{"team domain blank", " \n", "aud1", "", core.EnvTeamDomain, "not set"},
		{"team domain of another host", "myteam.example.com", "aud1", "", core.EnvTeamDomain, `"myteam.example.com"`},
		{"team domain with a path", "myteam.cloudflareaccess.com/cdn-cgi/access/certs", "aud1", "", core.EnvTeamDomain, "no path"},
		{"team domain over plain http", "http://myteam.cloudflareaccess.com", "aud1", "", core.EnvTeamDomain, "https"},
		{"no AUD at all", "myteam", "", "", core.EnvAudiences, "not set"},
		{"AUD list of empty items", "myteam", " , ,", "", core.EnvAudiences, "not set"},
		{"AUDs separated by spaces", "myteam", "aud1 aud2", "", core.EnvAudiences, "white space"},
		{"AUD in quotes", "myteam", `"aud1"`, "", core.EnvAudiences, "quote"},
		{"host without an AUD", "myteam", "", "app.example.com", core.EnvHostAudiences, `"app.example.com"`},
		{"host with an empty AUD", "myteam", "", "app.example.com=", core.EnvHostAudiences, "host=AUD"},
		{"AUD without a host", "myteam", "", "=aud1", core.EnvHostAudiences, "host=AUD"},
		{"host with a scheme", "myteam", "", "https://app.example.com=aud1", core.EnvHostAudiences, "scheme"},
		{"host with a port", "myteam", "", "app.example.com:8443=aud1", core.EnvHostAudiences, "port"},
		{"an IP address", "myteam", "", "192.0.2.1=aud1", core.EnvHostAudiences, "IP address"},
		{"AUD in quotes in a pair", "myteam", "", `app.example.com="aud1"`, core.EnvHostAudiences, "quote"},
		{"a bad pair after a good one", "myteam", "aud0", "app.example.com=aud1,oops", core.EnvHostAudiences, `"oops"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.team, tc.aud, tc.ha)
			cfg, err := core.ConfigFromEnv()
			if err == nil {
				t.Fatalf("ConfigFromEnv = %+v, want an error", cfg)
			}
			if !errors.Is(err, core.ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.variable) || !strings.Contains(msg, tc.mention) {
				t.Errorf("error %q: want it to name %s and say %q", msg, tc.variable, tc.mention)
			}
		})
	}
}

// TestConfigFromEnvUnset: an unset variable reads as an empty one.
func TestConfigFromEnvUnset(t *testing.T) {
	setEnv(t, "myteam", "aud1", "")
	unsetenv(t, core.EnvHostAudiences)
	cfg, err := core.ConfigFromEnv()
	if err != nil || cfg.HostAudiences != nil || !slices.Equal(cfg.Audiences, []string{"aud1"}) {
		t.Fatalf("ConfigFromEnv = %+v, %v", cfg, err)
	}
	unsetenv(t, core.EnvTeamDomain)
	if _, err := core.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), core.EnvTeamDomain) {
		t.Fatalf("with %s unset: %v", core.EnvTeamDomain, err)
	}
}
