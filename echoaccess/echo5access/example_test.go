package echo5access_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/echoaccess/echo5access"
)

func ExampleMiddleware() {
	team := accesstest.NewServer() // stands in for https://myteam.cloudflareaccess.com
	defer team.Close()
	v, err := core.NewVerifier(core.Config{TeamDomain: team.URL, Audiences: []string{team.AUD}})
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(echo5access.Middleware(v))
	e.GET("/whoami", func(c *echo.Context) error {
		claims, ok := echo5access.Claims(c)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			return c.NoContent(http.StatusInternalServerError)
		}
		return c.String(http.StatusOK, "hello "+claims.Email)
	})
	e.GET("/admin", func(c *echo.Context) error {
		return c.String(http.StatusOK, "welcome, admin")
	}, echo5access.RequireGroups("admins"))

	for _, call := range []struct{ path, token string }{
		{"/whoami", team.User("ann@example.com")},
		{"/admin", team.User("ann@example.com", "admins")},
		{"/admin", team.User("bob@example.com", "staff")},
	} {
		req := httptest.NewRequest("GET", call.path, nil)
		req.Header.Set(core.HeaderName, call.token) // Cf-Access-Jwt-Assertion, as Access sends it
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(call.path, rec.Code, rec.Body)
	}
	// Output:
	// /whoami 200 hello ann@example.com
	// /admin 200 welcome, admin
	// /admin 403 {"error":"forbidden","message":"access denied"}
}

func ExampleIdentity() {
	handler := func(c *echo.Context) error {
		id, err := echo5access.Identity(c) // get-identity, looked up once per token and cached
		if err != nil {
			return echo5access.WriteError(c, err) // 403 for a service token, 503 if Access is down
		}
		return c.JSON(http.StatusOK, map[string]any{"name": id.Name, "groups": id.Groups})
	}
	_ = handler
}

// Require's options: a route-level refusal reaches the observer, and the error handler
// renders it.
func ExampleRequire() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	observe := echo5access.WithObserver(func(e core.Event) {
		fmt.Println("observed:", e.Outcome, e.Code, e.Policy, e.Subject)
	})
	plain := echo5access.WithErrorHandler(func(c *echo.Context, err *core.Error) error {
		return c.String(err.Status(), string(err.Code))
	})
	e := echo.New()
	e.GET("/admin", func(c *echo.Context) error { return c.String(http.StatusOK, "welcome") },
		echo5access.Middleware(v), echo5access.Require(core.Groups("admins", "ops"), observe, plain))

	for _, token := range []string{team.User("ann@example.com", "ops"), team.User("bob@example.com", "staff")} {
		req := httptest.NewRequest("GET", "/admin", nil)
		req.Header.Set(core.HeaderName, token)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body)
	}
	// Output:
	// observed: allowed  groups(admins, ops) ann@example.com
	// 200 welcome
	// observed: denied forbidden groups(admins, ops) bob@example.com
	// 403 forbidden
}

// Paths that an Access policy bypasses reach the origin with no token: WithOptionalAuth lets
// them through with no caller, while a token that is present must still be valid, and a
// route that needs a caller still refuses an anonymous request.
func ExampleWithOptionalAuth() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(echo5access.Middleware(v, echo5access.WithOptionalAuth()))
	e.GET("/docs", func(c *echo.Context) error {
		if claims, ok := echo5access.Claims(c); ok {
			return c.String(http.StatusOK, "hello, "+claims.Email)
		}
		return c.String(http.StatusOK, "hello, guest")
	})
	e.GET("/docs/edit", func(c *echo.Context) error {
		return c.String(http.StatusOK, "saved")
	}, echo5access.RequireGroups("writers"))

	expired := team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
	for _, call := range []struct{ path, token string }{
		{"/docs", ""},
		{"/docs", team.User("ann@example.com")},
		{"/docs", expired},
		{"/docs/edit", ""},
		{"/docs/edit", team.User("ann@example.com", "writers")},
	} {
		req := httptest.NewRequest("GET", call.path, nil)
		req.Header.Set(core.HeaderName, call.token) // an empty header is no token
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(call.path, rec.Code, rec.Body)
	}
	// Output:
	// /docs 200 hello, guest
	// /docs 200 hello, ann@example.com
	// /docs 401 {"error":"invalid_token","message":"the token has expired"}
	// /docs/edit 401 {"error":"missing_token","message":"an Access token is required"}
	// /docs/edit 200 saved
}
