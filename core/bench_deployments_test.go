package core_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// BenchmarkGuardDeployments prices what per-host applications, optional authentication and
// groups read from SAML attributes add to a decision on a warm cache, against the plain
// decision of one application. Read them as ratios within one run:
//
//	go test ./core -run '^$' -bench BenchmarkGuardDeployments -benchmem
func BenchmarkGuardDeployments(b *testing.B) {
	srv := accesstest.NewServer(accesstest.WithIdP(accesstest.SAML))
	b.Cleanup(srv.Close)
	ctx := context.Background()
	one := newVerifier(b, testConfig(srv, nil))
	cfg := twoApps(srv, nil)
	cfg.Audiences = []string{srv.AUD}
	hosts := newVerifier(b, cfg)
	cfg = testConfig(srv, nil)
	cfg.GroupsAttribute = accesstest.GroupsAttribute
	attribute := newVerifier(b, cfg)
	samlUser := srv.User("ann@example.com", "staff", "admins")
	googleUser := srv.UserFrom(accesstest.GoogleWorkspace, "ann@example.com", "staff", "admins")

	for _, bc := range []struct {
		name  string
		v     *core.Verifier
		opts  []core.GuardOption
		host  string
		token string
	}{
		{"one_app", one, nil, "app.example.com", tokenFor(srv, srv.AUD)},
		{"host_audiences", hosts, nil, "admin.example.com", tokenFor(srv, adminAUD)},
		{"host_audiences_port_and_case", hosts, nil, "Admin.Example.com:443", tokenFor(srv, adminAUD)},
		{"optional_no_token", one, []core.GuardOption{core.GuardOptionalAuth()}, "app.example.com", ""},
		{"groups_list", one, []core.GuardOption{core.GuardPolicy(core.Groups("admins"))}, "app.example.com", googleUser},
		{"groups_attribute", attribute, []core.GuardOption{core.GuardPolicy(core.Groups("admins"))}, "app.example.com", samlUser},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := newGuard(b, bc.v, bc.opts...)
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = bc.host
			if bc.token != "" {
				r.Header.Set(core.HeaderName, bc.token)
			}
			req := core.HTTPRequest(r)
			if d := g.Check(ctx, req); !d.Allowed() {
				b.Fatal(d.Err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !g.Check(ctx, req).Allowed() {
					b.Fatal("refused")
				}
			}
		})
	}
}
