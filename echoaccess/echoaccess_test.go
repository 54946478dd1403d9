package echoaccess_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/echoaccess"
	"github.com/cfaccess/cfaccess/internal/conformance"
)

// write sends a handler's answer; the middleware does the same with its refusals.
func write(c echo.Context, r core.Response) error {
	r.Write(c.Response())
	return nil
}

func whoami(c echo.Context) error {
	claims, _ := echoaccess.Claims(c)
	return write(c, conformance.WhoAmI(claims, c.Request().Context()))
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
		web.POST("/page", whoami)

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

		e.GET("/bare/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))
		e.GET("/bare/me", me)
		e.GET("/nil/whoami", whoami, echoaccess.Middleware(nil))

		ctx := e.Group("/ctx", inject(s.Inject))
		ctx.GET("/whoami", whoami)
		ctx.GET("/me", me)
		ctx.GET("/admin", whoami, echoaccess.RequireGroups(conformance.AdminGroup))

		srv := httptest.NewServer(e)
		t.Cleanup(srv.Close)
		return srv.URL
	})
}

func TestMiddlewareWithoutVerifierRefusesEverything(t *testing.T) {
	e := echo.New()
	e.GET("/", func(echo.Context) error {
		t.Error("a request got through a middleware without a verifier")
		return nil
	}, echoaccess.Middleware(nil))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"misconfigured"`) || rec.Header().Get("Retry-After") != "" {
		t.Errorf("status %d, headers %v, body %s", rec.Code, rec.Header(), rec.Body)
	}
}

// TestErrorsReachEcho: a refusal the middleware renders itself is not also handed to echo's
// HTTPErrorHandler, while the error a custom error handler returns is, from Middleware and
// from Require alike. Login redirects never go to the custom handler.
func TestErrorsReachEcho(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		t.Fatal(err)
	}
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

	do := func(path, token string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		got, reached = nil, nil
		req := httptest.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set(core.HeaderName, token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	if rec := do("/default", ""); rec.Code != http.StatusUnauthorized || len(reached) != 0 {
		t.Errorf("default refusal: status %d, errors passed to echo: %v", rec.Code, reached)
	}
	for _, c := range []struct {
		path, token string
		code        core.Code
	}{
		{"/custom", "", core.CodeMissingToken},
		{"/require", team.User("bob@example.com", "staff"), core.CodeForbidden},
	} {
		rec := do(c.path, c.token)
		if len(got) != 1 || got[0].Code != c.code {
			t.Errorf("%s: the error handler got %v, want one %s", c.path, got, c.code)
		}
		if len(reached) != 1 || !errors.Is(reached[0], errRefused) || rec.Code != http.StatusTeapot {
			t.Errorf("%s: status %d, errors passed to echo: %v", c.path, rec.Code, reached)
		}
	}
	if rec := do("/page", "", "Sec-Fetch-Mode", "navigate"); rec.Code != http.StatusFound || len(got) != 0 || len(reached) != 0 {
		t.Errorf("login redirect: status %d, error handler got %v, echo got %v", rec.Code, got, reached)
	}
}

// TestOptionsApplyWhereTheyCan: Require takes the options that apply to it, and only those.
func TestOptionsApplyWhereTheyCan(t *testing.T) {
	conformance.CheckOptions(t, reflect.TypeFor[echoaccess.Option](), reflect.TypeFor[echoaccess.RequireOption](), []conformance.OptionCase{
		{Name: "WithSkipper", Func: echoaccess.WithSkipper, Middleware: true},
		{Name: "WithLoginRedirect", Func: echoaccess.WithLoginRedirect, Middleware: true},
		{Name: "WithOptionalAuth", Func: echoaccess.WithOptionalAuth, Middleware: true},
		{Name: "WithErrorHandler", Func: echoaccess.WithErrorHandler, Middleware: true, Require: true},
		{Name: "WithObserver", Func: echoaccess.WithObserver, Middleware: true, Require: true},
	})
}

// TestOptionalAuthStoresNoCaller: a request that WithOptionalAuth lets through without a
// token has no caller in echo's store, not even a nil *core.Caller, while its context marks
// it as seen: Identity answers 401, not 500.
func TestOptionalAuthStoresNoCaller(t *testing.T) {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		_, err := echoaccess.Identity(c)
		return c.String(http.StatusOK, fmt.Sprintf("stored=%v identity=%v", c.Get(echoaccess.CallerKey) != nil, conformance.CodeOf(err)))
	}, echoaccess.Middleware(v, echoaccess.WithOptionalAuth()))
	for token, want := range map[string]string{
		"":                                    "stored=false identity=missing_token",
		team.User("ann@example.com", "staff"): "stored=true identity=",
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if token != "" {
			req.Header.Set(core.HeaderName, token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Body.String() != want {
			t.Errorf("token %t: %q, want %q", token != "", rec.Body, want)
		}
	}
}
