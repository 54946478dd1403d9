package core_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
)

// FuzzHostAudiences feeds arbitrary Host headers to a guard whose origin binds
// admin.example.com to its own AUD. It never panics, and it lets the admin console's token
// in exactly when the host is admin.example.com in some spelling of it (case, a numeric
// port, one trailing dot), as an independent reading of the header says; the wiki's token
// never. Login URLs follow the same rule.
func FuzzHostAudiences(f *testing.F) {
	srv := newServer(f)
	g := newGuard(f, newVerifier(f, twoApps(srv, nil)))
	admin, wiki := tokenFor(srv, adminAUD), tokenFor(srv, wikiAUD)
	for _, seed := range []string{
		"admin.example.com", "ADMIN.example.com.", "admin.example.com:443", "admin.example.com.:8443",
		"admin.example.com:", "admin.example.com:+1", "admin.example.com:000443", "admin.example.com..",
		"wiki.example.com", "x.tenant.example.com", "[::1]:443", "[admin.example.com]", "203.0.113.9",
		"", ":", "\u212admin.example.com", "admin.example.com\x00", "admin.example.com:443:443",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, host string) {
		check := func(token string) core.Decision {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = host
			r.Header.Set(core.HeaderName, token)
			return g.Check(context.Background(), core.HTTPRequest(r))
		}
		want := hostOracle(host) == "admin.example.com"
		d := check(admin)
		if d.Allowed() != want {
			t.Fatalf("Host %q: admin token allowed %v, want %v (%v)", host, d.Allowed(), want, d.Err)
		}
		if !d.Allowed() && (d.Err == nil || d.Err.Code != core.CodeInvalidToken) {
			t.Fatalf("Host %q: refusal %+v, want invalid_token", host, d.Err)
		}
		if d := check(wiki); d.Allowed() && hostOracle(host) != "wiki.example.com" {
			t.Fatalf("Host %q: the wiki token was let in", host)
		}
		if u, err := g.Verifier().LoginURL(host, "/"); err == nil && want {
			if parsed, err := url.Parse(u); err != nil || parsed.Query().Get("kid") != adminAUD {
				t.Fatalf("Host %q: login URL %q, want kid %s", host, u, adminAUD)
			}
		}
	})
}

// hostOracle reads a Host header the simple way: strip a port of one to five digits, then
// one trailing dot, then lower-case ASCII. "" for anything else.
func hostOracle(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" || strings.Trim(port, "0") == "" {
			return ""
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			return ""
		}
	}
	return strings.ToLower(h)
}
