package core_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// One origin serves two Access applications, a wiki and an admin console, one per host name.
// Reached directly, bypassing Access, with a wiki token and the console's Host, it refuses.
func ExampleConfig_hostAudiences() {
	team := accesstest.NewServer() // stands in for https://myteam.cloudflareaccess.com
	defer team.Close()
	const wikiAUD, adminAUD = "aud-of-the-wiki", "aud-of-the-admin-console"

	v, err := core.NewVerifier(core.Config{
		TeamDomain: team.URL, // in production: "myteam"
		HostAudiences: map[string][]string{
			"wiki.example.com":  {wikiAUD},
			"admin.example.com": {adminAUD},
		},
		// Any other host (the origin's IP address, say) is refused: no application serves it.
	})
	if err != nil {
		panic(err)
	}
	guard, _ := core.NewGuard(v)

	wikiToken := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{wikiAUD}})
	for _, host := range []string{"wiki.example.com", "admin.example.com", "203.0.113.9"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		r.Header.Set(core.HeaderName, wikiToken)
		d := guard.Check(context.Background(), core.HTTPRequest(r))
		if d.Allowed() {
			fmt.Println(host, "allowed")
		} else {
			fmt.Println(host, d.Response().Status, d.Err.Reason)
		}
	}
	login, _ := v.LoginURL("admin.example.com", "/")
	fmt.Println(login[len(team.URL):])
	// Output:
	// wiki.example.com allowed
	// admin.example.com 401 host_audience
	// 203.0.113.9 401 unbound_host
	// /cdn-cgi/access/login/admin.example.com?kid=aud-of-the-admin-console&redirect_url=%2F
}

// Paths that an Access policy bypasses reach the origin with no token. GuardOptionalAuth lets
// them through with no caller; a token, when there is one, must still be valid.
func ExampleGuardOptionalAuth() {
	team := accesstest.NewServer()
	defer team.Close()
	v, _ := core.NewVerifier(team.Config())
	guard, _ := core.NewGuard(v, core.GuardOptionalAuth())

	for _, token := range []string{"", team.User("ann@example.com"), "not.a.token"} {
		r := httptest.NewRequest("GET", "/public", nil)
		if token != "" {
			r.Header.Set(core.HeaderName, token)
		}
		switch d := guard.Check(context.Background(), core.HTTPRequest(r)); {
		case d.Anonymous():
			fmt.Println("anonymous")
		case d.Allowed():
			fmt.Println("caller", d.Caller.Claims.Email)
		default:
			fmt.Println(d.Response().Status, d.Err.Code)
		}
	}
	// Output:
	// anonymous
	// caller ann@example.com
	// 401 invalid_token
}

// A SAML identity provider delivers groups as an attribute, here memberOf, which Access
// reports under get-identity's saml_attributes: GroupsAttribute points group policies there.
func ExampleConfig_groupsAttribute() {
	team := accesstest.NewServer(accesstest.WithIdP(accesstest.SAML))
	defer team.Close()
	cfg := team.Config()
	cfg.GroupsAttribute = "memberOf" // exactly as the attribute is spelt
	v, _ := core.NewVerifier(cfg)
	guard, _ := core.NewGuard(v, core.GuardPolicy(core.Groups("admins")))

	for _, memberOf := range [][]string{{"staff", "admins"}, {"staff"}} {
		token := team.Mint(accesstest.Token{Email: "ann@example.com", Attributes: map[string]any{"memberOf": memberOf}})
		r := httptest.NewRequest("GET", "/admin", nil)
		r.Header.Set(core.HeaderName, token)
		d := guard.Check(context.Background(), core.HTTPRequest(r))
		fmt.Println(memberOf, d.Allowed())
	}
	// Output:
	// [staff admins] true
	// [staff] false
}
