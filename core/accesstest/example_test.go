package accesstest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// Each identity provider reports a user in its own shape: run a test over all of them.
func ExampleServer_UserFrom() {
	team := accesstest.NewServer()
	defer team.Close()
	v, _ := core.NewVerifier(team.Config())

	for _, idp := range []accesstest.IdP{accesstest.GoogleWorkspace, accesstest.EntraID, accesstest.OneTimePIN, accesstest.SAML} {
		id, err := v.Identity(context.Background(), team.UserFrom(idp, "ann@example.com", "admins"))
		if err != nil {
			panic(err)
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
		{Email: "ann@example.com", IssuedAt: time.Now().Add(-2 * time.Hour)},  // expired an hour ago
		{Email: "ann@example.com", Audience: []string{"another-application"}}, // for another app
		{Email: "ann@example.com", Omit: []string{"exp"}},                     // no expiry at all
	} {
		_, err := v.Verify(context.Background(), team.Mint(tok))
		var e *core.Error
		if errors.As(err, &e) {
			fmt.Println(e.Code, e.Reason)
		}
	}
	// Output:
	// invalid_token expired
	// invalid_token audience
	// invalid_token missing_claim
}

// The endpoints fail on demand, to test that an outage fails closed: a group policy that
// cannot learn the groups answers 503, never a pass.
func ExampleServer_FailIdentity() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}
	guard, err := core.NewGuard(v, core.GuardPolicy(core.Groups("admins")))
	if err != nil {
		log.Fatal(err)
	}

	team.FailIdentity(accesstest.Status500)
	r := httptest.NewRequest("GET", "/admin", nil)
	r.Header.Set(core.HeaderName, team.User("ann@example.com", "admins"))
	d := guard.Check(r.Context(), core.HTTPRequest(r))
	fmt.Println(d.Response().Status, d.Err.Reason)
	// Output: 503 identity_unavailable
}

// Keys rotate as Cloudflare rotates them: the new key signs, the previous one stays
// published, and the verifier learns the new one when a token first names it.
func ExampleServer_RotateKeys() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
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
