package echoaccess_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/echoaccess"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// write sends a handler's answer; the middleware does the same with its refusals.
func write(c echo.Context, r adapter.Response) error {
	r.Write(c.Response())
	return nil
}

func whoami(c echo.Context) error {
	caller, _ := echoaccess.Caller(c)
	claims, _ := echoaccess.Claims(c)
	return write(c, conformance.WhoAmI(c.Request().Context(), caller, claims))
}

func me(c echo.Context) error {
	id, err := echoaccess.Identity(c)
	if err != nil {
		return echoaccess.WriteError(c, err)
	}
	return write(c, conformance.Me(id))
}

func public(c echo.Context) error { return write(c, conformance.Public()) }

func custom(c echo.Context, err *core.Error) error { return write(c, conformance.Custom(err)) }

// inject puts caller in the request's context only, as a test of the application would.
func inject(caller *core.Caller) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(core.ContextWithCaller(c.Request().Context(), caller)))
			return next(c)
		}
	}
}

// parse reads a cookie through echo before the middleware runs.
func parse(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
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

		api := e.Group("/api", echoaccess.Middleware(v))
		api.GET("/whoami", whoami)
		api.GET("/me", me)
		api.GET("/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))
		api.GET("/service", whoami, echoaccess.Require(core.ServiceTokens(conformance.ServiceClientID)))
		api.GET("/broken", whoami, echoaccess.Require(conformance.BrokenPolicy()))
		api.GET("/zero", whoami, echoaccess.Require(core.Policy{}))
		api.GET("/blank", whoami, echoaccess.RequireGroups(""))

		web := e.Group("/web", echoaccess.Middleware(v, echoaccess.WithLoginRedirect()))
		web.GET("/page", whoami)
		web.HEAD("/page", whoami)
		web.POST("/page", whoami)
		e.GET("/parsed/whoami", whoami, parse, echoaccess.Middleware(v))

		withCustom := echoaccess.WithErrorHandler(custom)
		cust := e.Group("/custom", echoaccess.Middleware(v, withCustom))
		cust.GET("/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup, withCustom))
		cust.GET("/broken", whoami, echoaccess.Require(conformance.BrokenPolicy(), withCustom))

		observe := echoaccess.WithObserver(s.Observe)
		e.GET("/observed/admin", whoami, echoaccess.Middleware(v, observe), echoaccess.RequireGroups(conformance.AdminGroup, observe))

		skip := e.Group("/skip", echoaccess.Middleware(v, echoaccess.WithSkipper(func(c echo.Context) bool {
			return conformance.SkipOpen(c.Request().URL.Path)
		})))
		skip.GET("/open", whoami)
		skip.GET("/open/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))
		skip.GET("/open/me", me)
		skip.GET("/closed", whoami)

		optional := e.Group("/optional", echoaccess.Middleware(v, echoaccess.WithOptionalAuth(), echoaccess.WithLoginRedirect()))
		optional.GET("/whoami", whoami)
		optional.GET("/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))
		optional.GET("/me", me)

		e.GET("/bare/whoami", whoami)
		e.GET("/bare/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))
		e.GET("/bare/me", me)
		e.GET("/nil/whoami", whoami, echoaccess.Middleware(nil))

		ctx := e.Group("/ctx", inject(s.Inject))
		ctx.GET("/whoami", whoami)
		ctx.GET("/me", me)
		ctx.GET("/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))

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
	withHandler := echoaccess.WithErrorHandler(func(c echo.Context, err *core.Error) error {
		got = append(got, err)
		return echo.NewHTTPError(http.StatusTeapot).SetInternal(errRefused)
	})

	e := echo.New()
	var reached []error
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		reached = append(reached, err)
		e.DefaultHTTPErrorHandler(err, c)
	}
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/default", ok, echoaccess.Middleware(v))
	e.GET("/custom", ok, echoaccess.Middleware(v, withHandler), echoaccess.RequireGroups("admins"))
	e.GET("/require", ok, echoaccess.Middleware(v), echoaccess.Require(core.Groups("admins"), withHandler))
	e.GET("/page", ok, echoaccess.Middleware(v, echoaccess.WithLoginRedirect(), withHandler))

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
	conformance.CheckOptions[echoaccess.Option, echoaccess.RequireOption](t, conformance.Options{
		WithSkipper: echoaccess.WithSkipper, WithLoginRedirect: echoaccess.WithLoginRedirect,
		WithOptionalAuth: echoaccess.WithOptionalAuth, WithErrorHandler: echoaccess.WithErrorHandler,
		WithObserver: echoaccess.WithObserver,
	})
}
