package echo5access_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/echoaccess/echo5access"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// write sends a handler's answer; the middleware does the same with its refusals.
func write(c *echo.Context, r adapter.Response) error {
	r.Write(c.Response())
	return nil
}

func whoami(c *echo.Context) error {
	caller, _ := echo5access.Caller(c)
	claims, _ := echo5access.Claims(c)
	return write(c, conformance.WhoAmI(c.Request().Context(), caller, claims))
}

func me(c *echo.Context) error {
	id, err := echo5access.Identity(c)
	if err != nil {
		return echo5access.WriteError(c, err)
	}
	return write(c, conformance.Me(id))
}

func public(c *echo.Context) error { return write(c, conformance.Public()) }

func custom(c *echo.Context, err *core.Error) error { return write(c, conformance.Custom(err)) }

// inject puts caller in the request's context only, as a test of the application would.
func inject(caller *core.Caller) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.SetRequest(c.Request().WithContext(core.ContextWithCaller(c.Request().Context(), caller)))
			return next(c)
		}
	}
}

// parse reads a cookie through echo before the middleware runs.
func parse(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		_, _ = c.Cookie(conformance.ParsedCookie)
		return next(c)
	}
}

// TestConformance runs the shared suite through a real echo router.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		e := echo.New()
		e.GET("/public", public)

		api := e.Group("/api", echo5access.Middleware(v))
		api.GET("/whoami", whoami)
		api.GET("/me", me)
		api.GET("/admin", whoami, echo5access.RequireGroups(conformance.AdminGroup))
		api.GET("/service", whoami, echo5access.Require(core.ServiceTokens(conformance.ServiceClientID)))
		api.GET("/broken", whoami, echo5access.Require(conformance.BrokenPolicy()))
		api.GET("/zero", whoami, echo5access.Require(core.Policy{}))
		api.GET("/blank", whoami, echo5access.RequireGroups(""))

		web := e.Group("/web", echo5access.Middleware(v, echo5access.WithLoginRedirect()))
		web.GET("/page", whoami)
		web.HEAD("/page", whoami)
		web.POST("/page", whoami)
		e.GET("/parsed/whoami", whoami, parse, echo5access.Middleware(v))

		withCustom := echo5access.WithErrorHandler(custom)
		cust := e.Group("/custom", echo5access.Middleware(v, withCustom))
		cust.GET("/admin", whoami, echo5access.RequireGroups(conformance.AdminGroup, withCustom))
		cust.GET("/broken", whoami, echo5access.Require(conformance.BrokenPolicy(), withCustom))

		observe := echo5access.WithObserver(s.Observe)
		e.GET("/observed/admin", whoami, echo5access.Middleware(v, observe), echo5access.RequireGroups(conformance.AdminGroup, observe))

		skip := e.Group("/skip", echo5access.Middleware(v, echo5access.WithSkipper(func(c *echo.Context) bool {
			return conformance.SkipOpen(c.Request().URL.Path)
		})))
		skip.GET("/open", whoami)
		skip.GET("/open/admin", whoami, echo5access.RequireGroups(conformance.AdminGroup))
		skip.GET("/open/me", me)
		skip.GET("/closed", whoami)

		optional := e.Group("/optional", echo5access.Middleware(v, echo5access.WithOptionalAuth(), echo5access.WithLoginRedirect()))
		optional.GET("/whoami", whoami)
		optional.GET("/admin", whoami, echo5access.RequireGroups(conformance.AdminGroup))
		optional.GET("/me", me)

		e.GET("/bare/whoami", whoami)
		e.GET("/bare/admin", whoami, echo5access.RequireGroups(conformance.AdminGroup))
		e.GET("/bare/me", me)
		e.GET("/nil/whoami", whoami, echo5access.Middleware(nil))

		ctx := e.Group("/ctx", inject(s.Inject))
		ctx.GET("/whoami", whoami)
		ctx.GET("/me", me)
		ctx.GET("/admin", whoami, echo5access.RequireGroups(conformance.AdminGroup))

		return testkit.Serve(t, e)
	})
}

// TestErrorsReachEcho: a refusal the middleware renders itself is not also handed to echo's
// HTTPErrorHandler, while the error a custom error handler returns is, from Middleware and
// from Require alike. Login redirects never go to the custom handler.
func TestErrorsReachEcho(t *testing.T) {
	team, v := testkit.TeamVerifier(t)
	errRefused := errors.New("refused")
	var got []*core.Error
	withHandler := echo5access.WithErrorHandler(func(c *echo.Context, err *core.Error) error {
		got = append(got, err)
		return echo.NewHTTPError(http.StatusTeapot, "refused").Wrap(errRefused)
	})

	e := echo.New()
	var reached []error
	defaultHandler := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		reached = append(reached, err)
		defaultHandler(c, err)
	}
	ok := func(c *echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/default", ok, echo5access.Middleware(v))
	e.GET("/custom", ok, echo5access.Middleware(v, withHandler), echo5access.RequireGroups("admins"))
	e.GET("/require", ok, echo5access.Middleware(v), echo5access.Require(core.Groups("admins"), withHandler))
	e.GET("/page", ok, echo5access.Middleware(v, echo5access.WithLoginRedirect(), withHandler))

	do := func(c conformance.Case) *httptest.ResponseRecorder {
		t.Helper()
		got, reached = nil, nil
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, conformance.NewRequest(c))
		return rec
	}

	if rec := do(conformance.Case{Path: "/default"}); rec.Code != http.StatusUnauthorized || len(reached) != 0 {
		t.Errorf("default refusal: status %d, errors passed to echo: %v", rec.Code, reached)
	}
	for _, c := range []struct {
		path, token string
		code        core.Code
	}{
		{"/custom", "", core.CodeMissingToken},
		{"/require", team.User("bob@example.com", "staff"), core.CodeForbidden},
	} {
		rec := do(conformance.Case{Path: c.path, Token: c.token})
		if len(got) != 1 || got[0].Code != c.code {
			t.Errorf("%s: the error handler got %v, want one %s", c.path, got, c.code)
		}
		if len(reached) != 1 || !errors.Is(reached[0], errRefused) || rec.Code != http.StatusTeapot {
			t.Errorf("%s: status %d, errors passed to echo: %v", c.path, rec.Code, reached)
		}
	}
	if rec := do(conformance.Case{Path: "/page", Header: map[string]string{"Sec-Fetch-Mode": "navigate"}}); rec.Code != http.StatusFound || len(got) != 0 || len(reached) != 0 {
		t.Errorf("login redirect: status %d, error handler got %v, echo got %v", rec.Code, got, reached)
	}
}

// TestOptionsApplyWhereTheyCan: Require takes the options that apply to it, and only those.
func TestOptionsApplyWhereTheyCan(t *testing.T) {
	conformance.CheckOptions[echo5access.Option, echo5access.RequireOption](t, conformance.Options{
		WithSkipper: echo5access.WithSkipper, WithLoginRedirect: echo5access.WithLoginRedirect,
		WithOptionalAuth: echo5access.WithOptionalAuth, WithErrorHandler: echo5access.WithErrorHandler,
		WithObserver: echo5access.WithObserver,
	})
}
