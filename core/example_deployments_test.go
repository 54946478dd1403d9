package core_test

import (
	"context"
	"fmt"

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

	wikiToken := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{wikiAUD}})
	for _, host := range []string{"wiki.example.com", "admin.example.com", "203.0.113.9"} {
		// The host of the request: an adapter's middleware passes it on.
		if _, err := v.Authenticate(context.Background(), wikiToken, host); err != nil {
			e := core.AsError(err)
			fmt.Println(host, e.Status(), e.Reason)
		} else {
			fmt.Println(host, "allowed")
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

// A SAML identity provider delivers groups as an attribute, here memberOf, which Access
// reports under get-identity's saml_attributes: GroupsAttribute points group policies there.
func ExampleConfig_groupsAttribute() {
	team := accesstest.NewServer(accesstest.WithIdP(accesstest.SAML))
	defer team.Close()
	cfg := team.Config()
	cfg.Groups = core.GroupsAttribute("memberOf") // exactly as the attribute is spelt
	v, _ := core.NewVerifier(cfg)
	admins := core.Groups("admins")
	ctx := context.Background()

	for _, memberOf := range [][]string{{"staff", "admins"}, {"staff"}} {
		token := team.Mint(accesstest.Token{Email: "ann@example.com", Attributes: map[string]any{"memberOf": memberOf}})
		caller, err := v.Authenticate(ctx, token)
		if err != nil {
			panic(err)
		}
		allowed, err := admins.Allow(ctx, caller) // looks the groups up at get-identity
		fmt.Println(memberOf, allowed, err)
	}
	// Output:
	// [staff admins] true <nil>
	// [staff] false <nil>
}
