package devproxy_test

import (
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/devproxy"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

func TestParseIdP(t *testing.T) {
	for in, want := range map[string]accesstest.IdP{
		"":            accesstest.GoogleWorkspace,
		"google-apps": accesstest.GoogleWorkspace,
		"Google":      accesstest.GoogleWorkspace,
		"azureAD":     accesstest.EntraID,
		"azuread":     accesstest.EntraID,
		"entra":       accesstest.EntraID,
		"otp":         accesstest.OneTimePIN,
		"onetimepin":  accesstest.OneTimePIN,
		"okta":        accesstest.Okta,
		"github":      accesstest.GitHub,
		"saml":        accesstest.SAML,
		" oidc ":      accesstest.OIDC,
	} {
		if got, err := devproxy.ParseIdP(in); err != nil || got != want {
			t.Errorf("ParseIdP(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := devproxy.ParseIdP("myspace"); err == nil || !strings.Contains(err.Error(), "google-apps") {
		t.Errorf("ParseIdP(myspace): %v, want an error listing the providers", err)
	}
	// Every provider accesstest knows can be chosen.
	for _, idp := range accesstest.IdPs() {
		if got, err := devproxy.ParseIdP(string(idp)); err != nil || got != idp {
			t.Errorf("ParseIdP(%q) = %q, %v", idp, got, err)
		}
	}
}

func TestParseGroups(t *testing.T) {
	if got := devproxy.ParseGroups(" admins, ,staff,admins,"); strings.Join(got, "|") != "admins|staff" {
		t.Errorf("ParseGroups = %q", got)
	}
	if got := devproxy.ParseGroups(""); got != nil {
		t.Errorf("ParseGroups(\"\") = %q", got)
	}
}

func TestIdentityValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   devproxy.Identity
		ok   bool
	}{
		{"user", devproxy.Identity{Email: "ann@example.com", Groups: []string{"a b"}}, true},
		{"service", devproxy.Identity{ServiceToken: "abc-123.access", Service: true}, true},
		{"service with a user to go back to", devproxy.Identity{Email: "ann@example.com", ServiceToken: "abc.access", Service: true}, true},
		{"no e-mail", devproxy.Identity{}, false},
		{"display name", devproxy.Identity{Email: "Ann <ann@example.com>"}, false},
		{"two addresses", devproxy.Identity{Email: "ann@example.com, bob@example.com"}, false},
		{"no client ID", devproxy.Identity{Email: "ann@example.com", Service: true}, false},
		{"client ID without .access", devproxy.Identity{ServiceToken: "abc", Service: true}, false},
		{"client ID with a slash", devproxy.Identity{ServiceToken: "a/b.access", Service: true}, false},
		{"unknown idp", devproxy.Identity{Email: "ann@example.com", IdP: "myspace"}, false},
		{"group with a comma", devproxy.Identity{Email: "ann@example.com", Groups: []string{"a,b"}}, false},
		{"group with a control character", devproxy.Identity{Email: "ann@example.com", Groups: []string{"a\nb"}}, false},
		{"too many groups", devproxy.Identity{Email: "ann@example.com", Groups: strings.Split(strings.Repeat("g,", 50)+"g", ",")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.id.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestIdentityString(t *testing.T) {
	for want, id := range map[string]devproxy.Identity{
		"ann@example.com (groups admins, staff; Microsoft Entra ID)": {Email: "ann@example.com", Groups: []string{"admins", "staff"}, IdP: accesstest.EntraID},
		"ann@example.com (no groups; Google Workspace)":              {Email: "ann@example.com"},
		"service token abc.access":                                   {Email: "ann@example.com", ServiceToken: "abc.access", Service: true},
		"signed out":                                                 {Email: "ann@example.com", SignedOut: true},
	} {
		if got := id.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
