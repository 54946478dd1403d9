package ginaccess_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/ginaccess"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// TestMain quiets gin: in its default debug mode it prints every route to stdout, which
// would also break the examples' Output.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func whoami(c *gin.Context) {
	caller, _ := ginaccess.Caller(c)
	claims, _ := ginaccess.Claims(c)
	conformance.WhoAmI(c.Request.Context(), caller, claims).Write(c.Writer)
}

func me(c *gin.Context) {
	id, err := ginaccess.Identity(c)
	if err != nil {
		ginaccess.WriteError(c, err)
		return
	}
	conformance.Me(id).Write(c.Writer)
}

func public(c *gin.Context) { conformance.Public().Write(c.Writer) }

func custom(c *gin.Context, err *core.Error) { conformance.Custom(err).Write(c.Writer) }

// inject puts caller in the request's context only, as a test of the application would.
func inject(caller *core.Caller) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request = c.Request.WithContext(core.ContextWithCaller(c.Request.Context(), caller))
	}
}

// parse reads a cookie through gin before the middleware runs.
func parse(c *gin.Context) { _, _ = c.Cookie(conformance.ParsedCookie) }

// TestConformance runs the shared suite through a real gin router.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		r := gin.New()
		r.GET("/public", public)

		api := r.Group("/api", ginaccess.Middleware(v))
		api.GET("/whoami", whoami)
		api.GET("/me", me)
		api.GET("/admin", ginaccess.RequireGroups(conformance.AdminGroup), whoami)
		api.GET("/service", ginaccess.Require(core.ServiceTokens(conformance.ServiceClientID)), whoami)
		api.GET("/broken", ginaccess.Require(conformance.BrokenPolicy()), whoami)
		api.GET("/zero", ginaccess.Require(core.Policy{}), whoami)
		api.GET("/blank", ginaccess.RequireGroups(""), whoami)

		web := r.Group("/web", ginaccess.Middleware(v, ginaccess.WithLoginRedirect()))
		web.GET("/page", whoami)
		web.HEAD("/page", whoami)
		web.POST("/page", whoami)
		r.GET("/parsed/whoami", parse, ginaccess.Middleware(v), whoami)

		withCustom := ginaccess.WithErrorHandler(custom)
		cust := r.Group("/custom", ginaccess.Middleware(v, withCustom))
		cust.GET("/admin", ginaccess.RequireGroups(conformance.AdminGroup, withCustom), whoami)
		cust.GET("/broken", ginaccess.Require(conformance.BrokenPolicy(), withCustom), whoami)

		observe := ginaccess.WithObserver(s.Observe)
		r.GET("/observed/admin", ginaccess.Middleware(v, observe), ginaccess.RequireGroups(conformance.AdminGroup, observe), whoami)

		skip := r.Group("/skip", ginaccess.Middleware(v, ginaccess.WithSkipper(func(c *gin.Context) bool {
			return conformance.SkipOpen(c.Request.URL.Path)
		})))
		skip.GET("/open", whoami)
		skip.GET("/open/admin", ginaccess.RequireGroups(conformance.AdminGroup), whoami)
		skip.GET("/open/me", me)
		skip.GET("/closed", whoami)

		optional := r.Group("/optional", ginaccess.Middleware(v, ginaccess.WithOptionalAuth(), ginaccess.WithLoginRedirect()))
		optional.GET("/whoami", whoami)
		optional.GET("/admin", ginaccess.RequireGroups(conformance.AdminGroup), whoami)
		optional.GET("/me", me)

		r.GET("/bare/whoami", whoami)
		r.GET("/bare/admin", ginaccess.RequireGroups(conformance.AdminGroup), whoami)
		r.GET("/bare/me", me)
		r.GET("/nil/whoami", ginaccess.Middleware(nil), whoami)

		ctx := r.Group("/ctx", inject(s.Inject))
		ctx.GET("/whoami", whoami)
		ctx.GET("/me", me)
		ctx.GET("/admin", ginaccess.RequireGroups(conformance.AdminGroup), whoami)
		return testkit.Serve(t, r)
	})
}

// TestRefusalsAbortTheChain checks what gin's own middleware sees of a refusal: an aborted
// chain and the refusal's status, which is what gin's logger and recovery report.
func TestRefusalsAbortTheChain(t *testing.T) {
	team, v := testkit.TeamVerifier(t)

	type seen struct {
		aborted bool
		status  int
	}
	var got seen
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		got = seen{c.IsAborted(), c.Writer.Status()}
	})
	api := r.Group("/", ginaccess.Middleware(v))
	reached := func(c *gin.Context) { c.String(http.StatusOK, "reached") }
	api.GET("/open", reached)
	api.GET("/admin", ginaccess.RequireGroups("admins"), reached)
	api.GET("/me", func(c *gin.Context) {
		if _, err := ginaccess.Identity(c); err != nil {
			ginaccess.WriteError(c, err)
		}
	}, reached)

	for _, tc := range []struct {
		path, token string
		want        seen
	}{
		{"/open", "", seen{true, http.StatusUnauthorized}},
		{"/open", team.User("ann@example.com"), seen{false, http.StatusOK}},
		{"/admin", team.User("bob@example.com", "staff"), seen{true, http.StatusForbidden}},
		{"/admin", team.User("ann@example.com", "admins"), seen{false, http.StatusOK}},
		{"/me", team.ServiceToken(""), seen{true, http.StatusForbidden}},
	} {
		got = seen{}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, conformance.NewRequest(conformance.Case{Path: tc.path, Token: tc.token}))
		if got != tc.want || rec.Code != tc.want.status {
			t.Errorf("%s: gin saw %+v and answered %d, want %+v", tc.path, got, rec.Code, tc.want)
		}
		if reachedBody := rec.Body.String() == "reached"; reachedBody == tc.want.aborted {
			t.Errorf("%s: body %q after aborted=%v", tc.path, rec.Body, got.aborted)
		}
	}
}

// TestOptionsApplyWhereTheyCan: Require takes the options that apply to it, and only those.
func TestOptionsApplyWhereTheyCan(t *testing.T) {
	conformance.CheckOptions[ginaccess.Option, ginaccess.RequireOption](t, conformance.Options{
		WithSkipper: ginaccess.WithSkipper, WithLoginRedirect: ginaccess.WithLoginRedirect,
		WithOptionalAuth: ginaccess.WithOptionalAuth, WithErrorHandler: ginaccess.WithErrorHandler,
		WithObserver: ginaccess.WithObserver,
	})
}

// TestContextWithFallback: with gin's ContextWithFallback, the *gin.Context itself, passed on
// as a context.Context, finds the caller of its request, as the package documentation says.
func TestContextWithFallback(t *testing.T) {
	team := testkit.NewTeam(t)
	r := gin.New()
	r.ContextWithFallback = true
	r.Use(ginaccess.Middleware(testkit.Verifier(t, team), ginaccess.WithSkipper(func(c *gin.Context) bool {
		return c.Request.URL.Path == "/skipped"
	})))
	r.NoRoute(func(c *gin.Context) {
		caller, _ := ginaccess.Caller(c)
		c.String(http.StatusOK, conformance.ContextReport(c, caller))
	})
	conformance.CheckContext(t, testkit.Serve(t, r), team)
}
