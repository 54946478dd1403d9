package core_test

import (
	"context"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// BenchmarkAuthenticateDeployments prices what per-host applications and groups read from
// SAML attributes add to the verifier's part of a decision on a warm cache, against the plain
// decision of one application. Read them as ratios within one run:
//
//	go test ./core -run '^$' -bench BenchmarkAuthenticateDeployments -benchmem
func BenchmarkAuthenticateDeployments(b *testing.B) {
	srv := accesstest.NewServer(accesstest.WithIdP(accesstest.SAML))
	b.Cleanup(srv.Close)
	ctx := context.Background()
	one := newVerifier(b, testConfig(srv, nil))
	cfg := twoApps(srv, nil)
	cfg.Audiences = []string{srv.AUD}
	hosts := newVerifier(b, cfg)
	cfg = testConfig(srv, nil)
	cfg.Groups = core.GroupsAttribute(accesstest.GroupsAttribute)
	attribute := newVerifier(b, cfg)
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
			decide := func() bool {
				c, err := bc.v.Authenticate(ctx, bc.token, bc.host)
				if err != nil {
					return false
				}
				if bc.policy == nil {
					return true
				}
				ok, _ := bc.policy.Allow(ctx, c)
				return ok
			}
			if !decide() {
				b.Fatal("refused")
			}
			b.ReportAllocs()
			for b.Loop() {
				if !decide() {
					b.Fatal("refused")
				}
			}
		})
	}
}
