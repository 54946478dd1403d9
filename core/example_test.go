package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

	expired := team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-2 * time.Hour)})
	_, err := v.Verify(context.Background(), expired)

	var e *core.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Reason, e.Message)
	}
	switch {
	case errors.Is(err, core.ErrMissingToken), errors.Is(err, core.ErrInvalidToken):
		fmt.Println("401")
	case errors.Is(err, core.ErrUnavailable):
		fmt.Println("503")
	}
	// Output:
	// invalid_token expired the token has expired
	// 401
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

func ExampleTokenFrom() {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: core.CookieName, Value: "from-the-cookie"})
	r.Header.Set(core.HeaderName, "from-the-header")

	token, source := core.TokenFrom(core.HTTPRequest(r))
	fmt.Println(token, source)
	// Output: from-the-header header
}

func ExampleFromContext() {
	ctx := core.NewContext(context.Background(), &core.Claims{Email: "ann@example.com"})
	if claims, ok := core.FromContext(ctx); ok {
		fmt.Println(claims.Email)
	}
	// Output: ann@example.com
}

// A handler that reads the caller's identity can be tested with no token and no network:
// NewCaller makes the caller, ContextWithCaller puts it where every accessor looks.
func ExampleNewCaller() {
	profile := func(w http.ResponseWriter, r *http.Request) { // the handler under test
		id, err := core.IdentityFromContext(r.Context())
		if err != nil {
			core.ErrorResponse(err).Write(w)
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

// A requirement answers by what the middleware before it left in the request's context.
func ExampleRequirement() {
	q := core.NewRequirement(core.Groups("admins"))
	r := core.HTTPRequest(httptest.NewRequest("GET", "/admin", nil))
	ann := core.NewCaller(&core.Claims{Email: "ann@example.com"},
		&core.Identity{Groups: []core.Group{{Name: "admins"}}})

	for _, ctx := range []context.Context{
		core.ContextWithCaller(context.Background(), ann), // the middleware stored a caller
		core.ContextWithCaller(context.Background(), nil), // it let the request through without one
		context.Background(),                              // no middleware ran: the route is misconfigured
	} {
		d := q.Check(ctx, r)
		fmt.Println(d.Allowed(), d.Response().Status)
	}
	// Output:
	// true 0
	// false 401
	// false 500
}
