package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

func ExampleNewVerifier() {
	// accesstest stands in for https://myteam.cloudflareaccess.com.
	team := accesstest.NewServer()
	defer team.Close()

	v, err := core.NewVerifier(core.Config{
		TeamDomain: team.URL, // in production: "myteam"
		Audiences:  []string{team.AUD},
	})
	if err != nil {
		panic(err) // a configuration error: fail at start-up
	}

	claims, err := v.Verify(context.Background(), team.User("ann@example.com"))
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Email, claims.IsServiceToken())

	claims, err = v.Verify(context.Background(), team.ServiceToken("0123456789abcdef0123456789abcdef.access"))
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.CommonName, claims.IsServiceToken())
	// Output:
	// ann@example.com false
	// 0123456789abcdef0123456789abcdef.access true
}

func ExampleVerifier_Verify_errors() {
	team := accesstest.NewServer()
	defer team.Close()
	v, _ := core.NewVerifier(team.Config())

	expired := team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	_, err := v.Verify(context.Background(), expired)

	if e := core.AsError(err); e != nil {
		fmt.Println(e.Code, e.Reason, e.Message)
		fmt.Println(e.Status())
	}
	switch {
	case errors.Is(err, core.ErrMissingToken), errors.Is(err, core.ErrInvalidToken):
		fmt.Println("log in again")
	case errors.Is(err, core.ErrUnavailable):
		fmt.Println("try again later")
	}
	// Output:
	// invalid_token expired the token has expired
	// 401
	// log in again
}

func ExampleParseTeamDomain() {
	for _, s := range []string{"myteam", "myteam.cloudflareaccess.com", "https://MyTeam.cloudflareaccess.com/", "example.com"} {
		team, err := core.ParseTeamDomain(s)
		fmt.Println(team, err != nil)
	}
	// Output:
	// https://myteam.cloudflareaccess.com false
	// https://myteam.cloudflareaccess.com false
	// https://myteam.cloudflareaccess.com false
	//  true
}

func ExampleCallerFromContext() {
	caller := core.NewCaller(&core.Claims{Email: "ann@example.com"}, nil)
	ctx := core.ContextWithCaller(context.Background(), caller)
	if c, ok := core.CallerFromContext(ctx); ok {
		fmt.Println(c.Claims.Email)
	}
	// Output: ann@example.com
}

// A handler that reads the caller's identity can be tested with no token and no network:
// NewCaller makes the caller, ContextWithCaller puts it where every accessor looks.
func ExampleNewCaller() {
	profile := func(w http.ResponseWriter, r *http.Request) { // the handler under test
		caller, ok := core.CallerFromContext(r.Context())
		if !ok {
			http.Error(w, "no caller", http.StatusUnauthorized)
			return
		}
		id, err := caller.Identity(r.Context())
		if err != nil {
			http.Error(w, err.Error(), core.AsError(err).Status())
			return
		}
		fmt.Fprintf(w, "%s, member of %s", id.Name, id.Groups[0].Name)
	}

	caller := core.NewCaller(
		&core.Claims{Subject: "7335d417-61da-459d-899c-0a01c76a3e6a", Email: "ann@example.com"},
		&core.Identity{Name: "Ann", Email: "ann@example.com", Groups: []core.Group{{Name: "admins"}}},
	)
	req := httptest.NewRequest("GET", "/profile", nil)
	rec := httptest.NewRecorder()
	profile(rec, req.WithContext(core.ContextWithCaller(req.Context(), caller)))
	fmt.Println(rec.Code, rec.Body)
	// Output: 200 Ann, member of admins
}

// ConfigFromEnv reads the configuration of the example servers and the cfaccess command
// from the environment; every mistake names the variable to fix.
func ExampleConfigFromEnv() {
	os.Setenv("CF_ACCESS_TEAM_DOMAIN", "myteam")
	os.Setenv("CF_ACCESS_AUD", "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2")
	defer os.Unsetenv("CF_ACCESS_TEAM_DOMAIN")
	defer os.Unsetenv("CF_ACCESS_AUD")

	cfg, err := core.ConfigFromEnv()
	fmt.Println(cfg.TeamDomain, len(cfg.Audiences), err)

	os.Setenv("CF_ACCESS_TEAM_DOMAIN", "myteam.example.com")
	_, err = core.ConfigFromEnv()
	fmt.Println(err)
	// Output:
	// myteam 1 <nil>
	// CF_ACCESS_TEAM_DOMAIN: cfaccess: invalid configuration: team domain "myteam.example.com": a bare host must be <team>.cloudflareaccess.com or <team>.fed.cloudflareaccess.com; give any other host as a full https:// URL
}
