package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func TestPolicies(t *testing.T) {
	ann := core.NewCaller(&core.Claims{Subject: "u1", Email: "Ann@Example.com",
		Groups: []core.Group{{ID: "g-1", Name: "admins", Email: "Admins@Example.com"}}}, nil)
	noEmail := core.NewCaller(&core.Claims{Subject: "u2"}, nil)
	svc := core.NewCaller(&core.Claims{CommonName: "abc.access",
		Groups: []core.Group{{Name: "admins"}}}, nil) // groups on a service token never count
	svcWithEmail := core.NewCaller(&core.Claims{CommonName: "abc.access", Email: "ann@example.com"}, nil)
	// Look-alikes that Unicode case folding takes for ASCII: the Kelvin sign folds to k, the
	// long s to s.
	kelvin := core.NewCaller(&core.Claims{Subject: "u3", Email: "\u212Aate@corp.example",
		Groups: []core.Group{{Name: "g", Email: "\u212Aeepers@corp.example"}}}, nil)
	longS := core.NewCaller(&core.Claims{Subject: "u4", Email: "kate@\u017Forp.example"}, nil)

	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		p      core.Policy
		caller *core.Caller
		want   bool
	}{
		{"group by name", core.Groups("ops", "admins"), ann, true},
		{"group by id", core.Groups("g-1"), ann, true},
		{"group by e-mail, any case", core.Groups("admins@example.COM"), ann, true},
		{"group name is case-sensitive", core.Groups("Admins"), ann, false},
		{"other group", core.Groups("ops"), ann, false},
		{"service token in a group", core.Groups("admins"), svc, false},
		{"e-mail, any case", core.Emails("ann@example.com"), ann, true},
		{"other e-mail", core.Emails("bob@example.com"), ann, false},
		{"no e-mail", core.Emails("ann@example.com"), noEmail, false},
		{"domain", core.EmailDomains("EXAMPLE.com"), ann, true},
		{"domain with @", core.EmailDomains("@example.com"), ann, true},
		{"parent domain only", core.EmailDomains("ample.com"), ann, false},
		{"subdomain is another domain", core.EmailDomains("sub.example.com"), ann, false},
		{"domain of a service token", core.EmailDomains("access"), svc, false},
		{"e-mail of a service token", core.Emails("ann@example.com"), svcWithEmail, false},
		{"e-mail domain of a service token", core.EmailDomains("example.com"), svcWithEmail, false},
		{"Kelvin sign for k", core.Emails("kate@corp.example"), kelvin, false},
		{"k for the Kelvin sign", core.Emails("\u212Aate@corp.example"), core.NewCaller(&core.Claims{Subject: "u5", Email: "kate@corp.example"}, nil), false},
		{"Kelvin sign, exactly", core.Emails("\u212Aate@corp.example"), kelvin, true},
		{"long s for s", core.EmailDomains("sorp.example"), longS, false},
		{"group e-mail with the Kelvin sign", core.Groups("keepers@corp.example", "KEEPERS@corp.example"), kelvin, false},
		{"listed service token", core.ServiceTokens("abc.access"), svc, true},
		{"unlisted service token", core.ServiceTokens("xyz.access"), svc, false},
		{"user for a service-token policy", core.ServiceTokens("abc.access"), ann, false},
		{"any user", core.AnyUser(), ann, true},
		{"any user, service token", core.AnyUser(), svc, false},
		{"any service token", core.AnyServiceToken(), svc, true},
		{"any service token, user", core.AnyServiceToken(), ann, false},
		{"any of, second", core.AnyOf(core.Emails("x@y.z"), core.Groups("admins")), ann, true},
		{"any of, none", core.AnyOf(core.Emails("x@y.z"), core.Groups("ops")), ann, false},
		{"all of", core.AllOf(core.AnyUser(), core.Groups("admins"), core.EmailDomains("example.com")), ann, true},
		{"all of, one fails", core.AllOf(core.AnyUser(), core.Groups("ops")), ann, false},
		{"func", core.PolicyFunc("subject u1", func(_ context.Context, c *core.Caller) (bool, error) { return c.Claims.Subject == "u1", nil }), ann, true},
		{"zero policy", core.Policy{}, ann, false},
		{"empty list", core.Groups(), ann, false},
		{"blank entry matching an empty e-mail", core.Emails(""), noEmail, false},
		{"blank entry among good ones", core.Emails("ann@example.com", ""), ann, false},
		{"empty AllOf", core.AllOf(), ann, false},
		{"mistake inside AnyOf", core.AnyOf(core.AnyUser(), core.Groups()), ann, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := tc.p.Allow(ctx, tc.caller)
			if got != tc.want {
				t.Errorf("%s.Allow = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	if got, _ := core.AnyUser().Allow(ctx, nil); got {
		t.Error("a nil caller allowed")
	}
}

// TestPolicyErrors: an error refuses, and AnyOf forgives it only when another policy says yes.
func TestPolicyErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	failing := core.PolicyFunc("failing", func(context.Context, *core.Caller) (bool, error) { return true, boom })
	ann := core.NewCaller(&core.Claims{Subject: "u", Email: "ann@example.com"}, nil)

	if ok, err := failing.Allow(ctx, ann); !errors.Is(err, boom) || ok {
		t.Fatalf("Allow = %v, %v; want a refusal with the error", ok, err)
	}
	if ok, err := core.AnyOf(failing, core.AnyUser()).Allow(ctx, ann); !ok || err != nil {
		t.Errorf("AnyOf with a yes after the error = %v, %v", ok, err)
	}
	if ok, err := core.AnyOf(core.Emails("x@y.z"), core.AnyUser(), failing).Allow(ctx, ann); !ok || err != nil {
		t.Errorf("AnyOf with a yes before the error = %v, %v", ok, err)
	}
	if ok, err := core.AnyOf(core.Emails("x@y.z"), failing).Allow(ctx, ann); ok || !errors.Is(err, boom) {
		t.Errorf("AnyOf with no yes = %v, %v; want the error", ok, err)
	}
	if ok, err := core.AllOf(core.AnyUser(), failing).Allow(ctx, ann); ok || !errors.Is(err, boom) {
		t.Errorf("AllOf with an error = %v, %v", ok, err)
	}

	// A caller made by hand without groups or an identity has no groups: refused.
	if ok, err := core.Groups("admins").Allow(ctx, core.NewCaller(&core.Claims{Subject: "u"}, nil)); ok || err != nil {
		t.Errorf("no groups: Allow = %v, %v", ok, err)
	}
	if err := core.Groups().Err(); !errors.Is(err, core.ErrConfig) {
		t.Errorf("Err() = %v", err)
	}
	if err := core.AnyOf(core.AnyUser(), core.Emails("a@b.c")).Err(); err != nil {
		t.Errorf("Err() of a sound policy = %v", err)
	}
	if s := core.AnyOf(core.Groups("a", "b"), core.AnyServiceToken()).String(); s != "any_of(groups(a, b), any_service_token)" {
		t.Errorf("String() = %q", s)
	}
}

// TestAnyOfShortCircuits: a cheap yes spares the identity lookup of a later group policy.
func TestAnyOfShortCircuits(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	p := core.AnyOf(core.EmailDomains("example.com"), core.Groups("admins"))
	ctx := context.Background()
	allow := func(tok string) bool {
		t.Helper()
		caller, err := v.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := p.Allow(ctx, caller)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !allow(srv.User("ann@example.com")) {
		t.Fatal("refused by e-mail domain")
	}
	if n := srv.IdentityRequests(); n != 0 {
		t.Errorf("%d identity calls, want none", n)
	}
	if !allow(srv.User("bob@other.org", "admins")) {
		t.Fatal("refused by group")
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("%d identity calls, want 1", n)
	}
}

// TestPolicySlips: a policy built from a likely slip (a list in one string, an unset
// variable, an address where a domain goes, a client secret where a client ID goes) says so
// at construction, through Err, and allows nobody, not even the caller it would match.
// What only looks like a slip is accepted.
func TestPolicySlips(t *testing.T) {
	ctx := context.Background()
	anyone := core.NewCaller(&core.Claims{Subject: "u", Email: "ann@example.com",
		Groups: []core.Group{{Name: "admins,ops"}, {Name: "admins"}, {Name: " "}, {Name: ""}}}, nil)
	svc := core.NewCaller(&core.Claims{CommonName: "0123456789abcdef.access"}, nil)
	for _, tc := range []struct {
		name    string
		p       core.Policy
		mention string // in Err; "" for a sound policy
	}{
		{"a group", core.Groups("admins"), ""},
		{"an LDAP DN, with commas and =", core.Groups("CN=Admins,OU=Groups,DC=example,DC=com"), ""},
		{"a group with spaces", core.Groups("Domain Admins"), ""},
		{"groups in one string", core.Groups("admins,ops"), "comma"},
		{"groups in one string, with a space", core.Groups("admins, ops"), "comma"},
		{"a blank group", core.Groups("admins", " "), "blank"},
		{"an empty group", core.Groups(""), "blank"},
		{"no groups", core.Groups(), "empty list"},
		{"an e-mail", core.Emails("ann@example.com"), ""},
		{"e-mails in one string", core.Emails("ann@example.com,bob@example.com"), "separator"},
		{"e-mails separated by a semicolon", core.Emails("ann@example.com;bob@example.com"), "separator"},
		{"e-mails separated by a space", core.Emails("ann@example.com bob@example.com"), "separator"},
		{"a domain for an e-mail", core.Emails("example.com"), "not an e-mail address"},
		{"an @domain for an e-mail", core.Emails("@example.com"), "not an e-mail address"},
		{"no domain", core.Emails("ann@"), "not an e-mail address"},
		{"two @", core.Emails("ann@b@example.com"), "not an e-mail address"},
		{"a blank e-mail", core.Emails(" \t"), "blank"},
		{"a domain", core.EmailDomains("example.com"), ""},
		{"an @domain", core.EmailDomains("@Example.COM"), ""},
		{"domains in one string", core.EmailDomains("example.com,example.org"), "separator"},
		{"an e-mail for a domain", core.EmailDomains("ann@example.com"), "e-mail address"},
		{"not a domain name", core.EmailDomains("example..com"), "not a domain name"},
		{"a domain with an underscore", core.EmailDomains("my_example.com"), "not a domain name"},
		{"a URL for a domain", core.EmailDomains("https://example.com"), "not a domain name"},
		{"a blank domain", core.EmailDomains(""), "blank"},
		{"a client ID", core.ServiceTokens("0123456789abcdef.access"), ""},
		{"a client secret", core.ServiceTokens("3a1f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f"), `".access"`},
		{"the suffix alone", core.ServiceTokens(".access"), `".access"`},
		{"client IDs in one string", core.ServiceTokens("a.access,b.access"), "separator"},
		{"a blank client ID", core.ServiceTokens(""), "blank"},
		{"a slip inside AnyOf", core.AnyOf(core.AnyUser(), core.Groups("admins,ops")), "comma"},
		{"a slip inside AllOf", core.AllOf(core.AnyUser(), core.Emails("example.com")), "not an e-mail address"},
		{"an empty AnyOf", core.AnyOf(), "empty list"},
		{"a nil PolicyFunc", core.PolicyFunc("f", nil), "nil function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Err()
			if tc.mention == "" {
				if err != nil {
					t.Fatalf("Err() = %v", err)
				}
				return
			}
			if !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("Err() = %v, want ErrConfig mentioning %q", err, tc.mention)
			}
			for _, c := range []*core.Caller{anyone, svc} {
				if ok, _ := tc.p.Allow(ctx, c); ok {
					t.Errorf("a policy with a mistake allowed %v", c.Claims)
				}
			}
		})
	}
	// Every mistake of a list is reported, each quoting its entry.
	err := core.Emails("ann@example.com", "example.com", " ", "bob@example.com;cy@example.com").Err()
	for _, want := range []string{`"example.com"`, `" "`, `"bob@example.com;cy@example.com"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to quote %s", err, want)
		}
	}
}
