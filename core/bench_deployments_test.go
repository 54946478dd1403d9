package core_test

import (
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// BenchmarkAuthenticateDeployments prices what per-host applications and groups read from
// SAML attributes add to the verifier's part of a decision on a warm cache, against the plain
// decision of one application. Read them as ratios within one run:
//
//	go test ./core -run '^$' -bench BenchmarkAuthenticateDeployments -benchmem
func BenchmarkAuthenticateDeployments(b *testing.B) {
	srv, one := testkit.TeamVerifier(b, accesstest.WithIdP(accesstest.SAML))
	cfg := twoApps(srv, nil)
	cfg.Audiences = []string{srv.AUD}
	hosts := testkit.NewVerifier(b, cfg)
	attribute := groupsFrom(b, srv, core.GroupsAttribute(accesstest.GroupsAttribute))
	samlUser := srv.User("ann@example.com", "staff", "admins")
	googleUser := srv.UserFrom(accesstest.GoogleWorkspace, "ann@example.com", "staff", "admins")
	admins := core.Groups("admins")

	for _, bc := range []struct {
		name   string
		v      *core.Verifier
		policy *core.Policy
		host   string
		token  string
	}{
		{"one_app", one, nil, "app.example.com", tokenFor(srv, srv.AUD)},
		{"host_audiences", hosts, nil, "admin.example.com", tokenFor(srv, adminAUD)},
		{"host_audiences_port_and_case", hosts, nil, "Admin.Example.com:443", tokenFor(srv, adminAUD)},
		{"groups_list", one, &admins, "app.example.com", googleUser},
		{"groups_attribute", attribute, &admins, "app.example.com", samlUser},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchDecision(b, bc.v, bc.token, bc.host, bc.policy)
		})
	}
}
