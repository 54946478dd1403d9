package accesstest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// Each identity provider reports a user in its own shape: run a test over all of them.
func ExampleServer_UserFrom() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	for _, idp := range []accesstest.IdP{accesstest.GoogleWorkspace, accesstest.EntraID, accesstest.OneTimePIN, accesstest.SAML} {
		id, err := v.Identity(context.Background(), team.UserFrom(idp, "ann@example.com", "admins"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-11s groups %v, saml_attributes %s, name %q, version %d\n", idp, id.Groups, id.SAMLAttributes, id.Name, id.Version)
	}
	// Output:
	// google-apps groups [{ymkubkycjgfnZPG admins admins@example.com}], saml_attributes , name "ann", version 2
	// azureAD     groups [{67869dc2-5b49-ef63-1fa8-e1307055270e admins }], saml_attributes , name "ann", version 2
	// onetimepin  groups [], saml_attributes , name "", version 0
	// saml        groups [], saml_attributes {"groups":["admins"]}, name "ann", version 2
}

// A fake team domain stands in for Cloudflare: configure the code under test with its URL
// and AUD, and send the tokens it mints.
func ExampleNewServer() {
	team := accesstest.NewServer()
	defer team.Close()

	v, err := core.NewVerifier(team.Config()) // TeamDomain: team.URL, Audiences: {team.AUD}
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), team.User("ann@example.com"))
	fmt.Println(claims.Email, claims.Issuer == team.URL, err)
	// Output: ann@example.com true <nil>
}

// A user's groups are what get-identity reports for the user's token.
func ExampleServer_User() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	id, err := v.Identity(context.Background(), team.User("ann@example.com", "admins", "ops"))
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range id.Groups {
		fmt.Println(g.Name)
	}
	fmt.Println(team.IdentityRequests(), "call to get-identity")
	// Output:
	// admins
	// ops
	// 1 call to get-identity
}

func ExampleServer_ServiceToken() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	claims, err := v.Verify(context.Background(), team.ServiceToken("0123456789abcdef0123456789abcdef.access"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.IsServiceToken(), claims.CommonName, claims.Email == "")
	// Output: true 0123456789abcdef0123456789abcdef.access true
}

// Mint makes any token, broken ones included, to test refusals.
func ExampleServer_Mint() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	for _, tok := range []accesstest.Token{
		{Email: "ann@example.com", ExpiresAt: time.Now().Add(-time.Hour)},     // expired an hour ago
		{Email: "ann@example.com", Audience: []string{"another-application"}}, // for another app
		{Email: "ann@example.com", Omit: []string{"exp"}},                     // no expiry at all
	} {
		_, err := v.Verify(context.Background(), team.Mint(tok))
		if e := core.AsError(err); e != nil {
			fmt.Println(e.Code, e.Reason)
		}
	}
	// Output:
	// invalid_token expired
	// invalid_token audience
	// invalid_token missing_claim
}

// The endpoints fail on demand, to test that an outage fails closed: a group policy that
// cannot learn the groups refuses with 503, never a pass.
func ExampleServer_FailIdentity() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	caller, err := v.Authenticate(ctx, team.User("ann@example.com", "admins"))
	if err != nil {
		log.Fatal(err)
	}

	team.FailIdentity(accesstest.Status500)
	ok, err := core.Groups("admins").Allow(ctx, caller)
	if e := core.AsError(err); e != nil {
		fmt.Println(ok, e.Status(), e.Reason)
	}
	// Output: false 503 identity_unavailable
}

// SAML and generic OIDC providers deliver groups as an attribute, not in get-identity's
// "groups" list: a test against the provider that production uses catches a configuration
// that reads them from the wrong place.
func ExampleWithIdP() {
	team := accesstest.NewServer(accesstest.WithIdP(accesstest.SAML))
	defer team.Close()
	cfg := team.Config()
	cfg.Groups = core.GroupsAttribute(accesstest.GroupsAttribute)
	v, err := core.NewVerifier(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	caller, err := v.Authenticate(ctx, team.User("ann@example.com", "admins"))
	if err != nil {
		log.Fatal(err)
	}

	ok, err := core.Groups("admins").Allow(ctx, caller)
	fmt.Println(ok, err)
	// Output: true <nil>
}

// Keys rotate as Cloudflare rotates them: the new key signs, the previous one stays
// published, and the verifier learns the new one when a token first names it.
func ExampleServer_RotateKeys() {
	team := accesstest.NewServer()
	defer team.Close()
	cfg := team.Config()
	// A request that names a new key waits for the key set to be fetched again: on a busy
	// test machine that can take longer than the default wait, sized for production.
	cfg.Keys.FetchWait = time.Minute
	v, err := core.NewVerifier(cfg)
	if err != nil {
		log.Fatal(err)
	}
	before := team.User("ann@example.com")

	team.RotateKeys()
	_, errNew := v.Verify(context.Background(), team.User("bob@example.com"))
	_, errOld := v.Verify(context.Background(), before)
	fmt.Println(errNew, errOld, len(team.KeyIDs()), "keys published")
	// Output: <nil> <nil> 2 keys published
}

// Access publishes a new key before it signs with it: a verifier that fetched the key set
// in between verifies the new key's first token without fetching it again.
func ExampleServer_PublishNextKey() {
	team := accesstest.NewServer()
	defer team.Close()
	next := team.PublishNextKey() // published, not signing yet
	cfg := team.Config()
	cfg.Keys.StartupWait = time.Minute // a busy test machine may be slow to answer the first fetch
	cfg.Keys.FetchWait = time.Minute
	v, err := core.NewVerifier(cfg) // fetches the key set, the next key included
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_, errBefore := v.Verify(ctx, team.User("ann@example.com"))

	fmt.Println(team.RotateKeys() == next) // the next key signs from now on
	_, errAfter := v.Verify(ctx, team.User("bob@example.com"))
	fmt.Println(errBefore, errAfter, team.CertsRequests(), "fetch of the key set")
	// Output:
	// true
	// <nil> <nil> 1 fetch of the key set
}

// Access trims custom attributes from the end of the configured list when a user's grow past
// its budget: a verifier reading groups from the token then finds them at get-identity.
func ExampleWithCustomBudget() {
	team := accesstest.NewServer(accesstest.WithCustomBudget(100))
	defer team.Close()
	cfg := team.Config()
	cfg.Groups = core.GroupsClaim("groups")
	v, err := core.NewVerifier(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	for _, groups := range [][]string{
		{"admins"},
		{"admins", "platform-engineering", "release-managers", "site-reliability", "security-reviewers"},
	} {
		caller, err := v.Authenticate(ctx, team.Mint(accesstest.Token{
			Email:       "ann@example.com",
			Groups:      groups, // get-identity's full list
			Custom:      map[string]any{"department": "eng", "groups": groups},
			CustomOrder: []string{"department", "groups"}, // groups last: trimmed first
		}))
		if err != nil {
			log.Fatal(err)
		}
		ok, err := core.Groups("admins").Allow(ctx, caller)
		fmt.Printf("token custom %s: admin %v %v, get-identity calls %d\n", caller.Claims.Custom, ok, err, team.IdentityRequests())
	}
	// Output:
	// token custom {"department":"eng","groups":["admins"]}: admin true <nil>, get-identity calls 0
	// token custom {"department":"eng"}: admin true <nil>, get-identity calls 1
}
