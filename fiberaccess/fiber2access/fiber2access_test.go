package fiber2access_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/fiberaccess/fiber2access"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func whoami(c *fiber.Ctx) error {
	caller, _ := fiber2access.Caller(c)
	claims, _ := fiber2access.Claims(c)
	return send(c, conformance.WhoAmI(c.UserContext(), caller, claims))
}

func me(c *fiber.Ctx) error {
	id, err := fiber2access.Identity(c)
	if err != nil {
		return fiber2access.WriteError(c, err)
	}
	return send(c, conformance.Me(id))
}

func public(c *fiber.Ctx) error { return send(c, conformance.Public()) }

func custom(c *fiber.Ctx, err *core.Error) error { return send(c, conformance.Custom(err)) }

// send writes a handler's answer as the middleware writes a refusal.
func send(c *fiber.Ctx, r adapter.Response) error {
	for k, v := range r.Headers() {
		c.Set(k, v)
	}
	return c.Status(r.Status).Send(r.Body)
}

// inject puts caller in c.UserContext() only, as a test of the application would.
func inject(caller *core.Caller) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.SetUserContext(core.ContextWithCaller(c.UserContext(), caller))
		return c.Next()
	}
}

// parse reads a cookie through fiber before the middleware runs, which makes fasthttp move the
// raw Cookie lines out of its header list.
func parse(c *fiber.Ctx) error {
	_ = c.Cookies(conformance.ParsedCookie)
	return c.Next()
}

// TestConformance runs the shared suite through a real fiber app on loopback.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		app := fiber.New(fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0), DisableStartupMessage: true}) // as the README says
		app.Get("/public", public)

		api := app.Group("/api", fiber2access.Middleware(v))
		api.Get("/whoami", whoami)
		api.Get("/me", me)
		api.Get("/admin", fiber2access.RequireGroups(conformance.AdminGroup), whoami)
		api.Get("/service", fiber2access.Require(core.ServiceTokens(conformance.ServiceClientID)), whoami)
		api.Get("/broken", fiber2access.Require(conformance.BrokenPolicy()), whoami)
		api.Get("/zero", fiber2access.Require(core.Policy{}), whoami)
		api.Get("/blank", fiber2access.RequireGroups(""), whoami)

		web := app.Group("/web", fiber2access.Middleware(v, fiber2access.WithLoginRedirect()))
		web.Get("/page", whoami)
		web.Post("/page", whoami) // fiber's Get answers HEAD too
		app.Get("/parsed/whoami", parse, fiber2access.Middleware(v), whoami)

		withCustom := fiber2access.WithErrorHandler(custom)
		app.Group("/custom", fiber2access.Middleware(v, withCustom)).
			Get("/admin", fiber2access.RequireGroups(conformance.AdminGroup, withCustom), whoami).
			Get("/broken", fiber2access.Require(conformance.BrokenPolicy(), withCustom), whoami)

		observe := fiber2access.WithObserver(s.Observe)
		app.Get("/observed/admin", fiber2access.Middleware(v, observe), fiber2access.RequireGroups(conformance.AdminGroup, observe), whoami)

		skip := fiber2access.WithSkipper(func(c *fiber.Ctx) bool { return conformance.SkipOpen(c.Path()) })
		app.Group("/skip", fiber2access.Middleware(v, skip)).
			Get("/open", whoami).
			Get("/open/admin", fiber2access.RequireGroups(conformance.AdminGroup), whoami).
			Get("/open/me", me).
			Get("/closed", whoami)

		app.Group("/optional", fiber2access.Middleware(v, fiber2access.WithOptionalAuth(), fiber2access.WithLoginRedirect())).
			Get("/whoami", whoami).
			Get("/admin", fiber2access.RequireGroups(conformance.AdminGroup), whoami).
			Get("/me", me)

		app.Get("/bare/whoami", whoami)
		app.Get("/bare/admin", fiber2access.RequireGroups(conformance.AdminGroup), whoami)
		app.Get("/bare/me", me)
		app.Get("/nil/whoami", fiber2access.Middleware(nil), whoami)

		app.Group("/ctx", inject(s.Inject)).
			Get("/whoami", whoami).
			Get("/me", me).
			Get("/admin", fiber2access.RequireGroups(conformance.AdminGroup), whoami)
		return serve(t, app)
	})
}

// TestRequestCtxIsAContext: c.Context(), the *fasthttp.RequestCtx, as a context.Context,
// finds what the middleware stored (its Value reads the request's user values), so that
// core.CallerFromContext(c.Context()) is not a silent miss; the same holds for a skipped
// route's "seen, no caller", which adapter.Accessors tell from a request no middleware saw.
func TestRequestCtxIsAContext(t *testing.T) {
	team := testkit.NewTeam(t)
	app := fiber.New(quiet)
	app.Use(fiber2access.Middleware(testkit.Verifier(t, team), fiber2access.WithSkipper(func(c *fiber.Ctx) bool { return c.Path() == "/skipped" })))
	app.Get("/*", func(c *fiber.Ctx) error {
		caller, _ := fiber2access.Caller(c)
		return c.SendString(conformance.ContextReport(c.Context(), caller))
	})
	conformance.CheckContext(t, serve(t, app), team)
}

// quiet is the configuration of the apps that serve: fiber v2 prints a banner on Listener
// unless its configuration says not to.
var quiet = fiber.Config{DisableStartupMessage: true}

// serve runs app on a loopback listener until the test ends.
func serve(t conformance.TB, app *fiber.App) string {
	t.Helper()
	ln := testkit.Listen(t)
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	t.Cleanup(func() {
		if err := app.Shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		_ = ln.Close() // in case Shutdown came before Listener started serving
		<-done
	})
	return "http://" + ln.Addr().String()
}

// TestCacheHitAllocations holds the middleware to what a cache hit must cost beyond fiber's
// own work on a route without it: the context that carries the caller, nothing for the
// request view, the user value or the Caller, which the cache shares.
func TestCacheHitAllocations(t *testing.T) {
	testkit.SkipAllocsUnderRace(t)
	team := testkit.NewTeam(t)
	app := fiber.New()
	noContent := func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) }
	app.Get("/", fiber2access.Middleware(testkit.Verifier(t, team)), noContent)
	app.Get("/open", noContent)
	handle := app.Handler()

	allocs := func(path, how string) float64 {
		var rc fasthttp.RequestCtx
		raw := "GET " + path + "?q=1 HTTP/1.1\r\nHost: example.com\r\n" + how + team.User("ann@example.com") + "\r\n\r\n"
		if err := rc.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatal(err)
		}
		handle(&rc) // verifies, and fills the cache
		if rc.Response.StatusCode() != http.StatusNoContent {
			t.Fatalf("%s %s: status %d", path, how, rc.Response.StatusCode())
		}
		return testing.AllocsPerRun(100, func() {
			rc.Response.Reset()
			handle(&rc)
		})
	}
	for _, how := range []string{core.HeaderName + ": ", "Cookie: a=1; CF_Authorization="} {
		if added := allocs("/", how) - allocs("/open", how); added > 1 {
			t.Errorf("%s: %.1f allocations per cache hit beyond fiber's own, want at most 1", how, added)
		}
	}
}

// TestOptionsApplyWhereTheyCan: Require takes the options that apply to it, and only those.
func TestOptionsApplyWhereTheyCan(t *testing.T) {
	conformance.CheckOptions[fiber2access.Option, fiber2access.RequireOption](t, conformance.Options{
		WithSkipper: fiber2access.WithSkipper, WithLoginRedirect: fiber2access.WithLoginRedirect,
		WithOptionalAuth: fiber2access.WithOptionalAuth, WithErrorHandler: fiber2access.WithErrorHandler,
		WithObserver: fiber2access.WithObserver,
	})
}

// TestReadBufferForAccessTokens: fiber's default read buffer, which also bounds a request's
// headers, refuses a realistic token sent as Access sends it (431, before any middleware
// runs); adapter.MaxHeaderBytes, as the README says, lets through even the largest token the
// verifier reads, twice, so that cfaccess gives the answer.
func TestReadBufferForAccessTokens(t *testing.T) {
	team, v := testkit.TeamVerifier(t)
	large := conformance.LargeToken(team, "ann@example.com")
	largest := strings.Repeat("a", core.DefaultMaxTokenSize)
	for _, c := range []struct {
		name   string
		config fiber.Config
		token  string
		status int
	}{
		{"default buffer, a large token", fiber.Config{}, large, http.StatusRequestHeaderFieldsTooLarge},
		{"MaxHeaderBytes, a large token", fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)}, large, http.StatusOK},
		{"MaxHeaderBytes, the largest token read", fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)}, largest, http.StatusUnauthorized},
	} {
		c.config.DisableStartupMessage = true
		app := fiber.New(c.config)
		app.Get("/", fiber2access.Middleware(v), func(c *fiber.Ctx) error { return c.SendStatus(http.StatusOK) })
		base := serve(t, app)
		cookies := "_ga=GA1.1.1180465126.1714033531; " + core.CookieName + "=" + c.token + "; theme=dark"
		if got := conformance.Status(t, base, conformance.Case{Path: "/", Token: c.token, Cookies: []string{cookies}}); got != c.status {
			t.Errorf("%s: status %d, want %d", c.name, got, c.status)
		}
	}
}
