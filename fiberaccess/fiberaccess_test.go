package fiberaccess_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/fiberaccess"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func whoami(c fiber.Ctx) error {
	caller, _ := fiberaccess.Caller(c)
	claims, _ := fiberaccess.Claims(c)
	return send(c, conformance.WhoAmI(c.Context(), caller, claims))
}

func me(c fiber.Ctx) error {
	id, err := fiberaccess.Identity(c)
	if err != nil {
		return fiberaccess.WriteError(c, err)
	}
	return send(c, conformance.Me(id))
}

func public(c fiber.Ctx) error { return send(c, conformance.Public()) }

func custom(c fiber.Ctx, err *core.Error) error { return send(c, conformance.Custom(err)) }

// send writes a handler's answer as the middleware writes a refusal.
func send(c fiber.Ctx, r adapter.Response) error {
	for k, v := range r.Headers() {
		c.Set(k, v)
	}
	return c.Status(r.Status).Send(r.Body)
}

// inject puts caller in c.Context() only, as a test of the application would.
func inject(caller *core.Caller) fiber.Handler {
	return func(c fiber.Ctx) error {
		c.SetContext(core.ContextWithCaller(c.Context(), caller))
		return c.Next()
	}
}

// parse reads a cookie through fiber before the middleware runs, which makes fasthttp move the
// raw Cookie lines out of its header list.
func parse(c fiber.Ctx) error {
	_ = c.Cookies(conformance.ParsedCookie)
	return c.Next()
}

// TestConformance runs the shared suite through a real fiber app on loopback.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		app := fiber.New(fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)}) // as the README says
		app.Get("/public", public)

		api := app.Group("/api", fiberaccess.Middleware(v))
		api.Get("/whoami", whoami)
		api.Get("/me", me)
		api.Get("/admin", fiberaccess.RequireGroups(conformance.AdminGroup), whoami)
		api.Get("/service", fiberaccess.Require(core.ServiceTokens(conformance.ServiceClientID)), whoami)
		api.Get("/broken", fiberaccess.Require(conformance.BrokenPolicy()), whoami)
		api.Get("/zero", fiberaccess.Require(core.Policy{}), whoami)
		api.Get("/blank", fiberaccess.RequireGroups(""), whoami)

		web := app.Group("/web", fiberaccess.Middleware(v, fiberaccess.WithLoginRedirect()))
		web.Get("/page", whoami)
		web.Post("/page", whoami) // fiber's Get answers HEAD too
		app.Get("/parsed/whoami", parse, fiberaccess.Middleware(v), whoami)

		withCustom := fiberaccess.WithErrorHandler(custom)
		app.Group("/custom", fiberaccess.Middleware(v, withCustom)).
			Get("/admin", fiberaccess.RequireGroups(conformance.AdminGroup, withCustom), whoami).
			Get("/broken", fiberaccess.Require(conformance.BrokenPolicy(), withCustom), whoami)

		observe := fiberaccess.WithObserver(s.Observe)
		app.Get("/observed/admin", fiberaccess.Middleware(v, observe), fiberaccess.RequireGroups(conformance.AdminGroup, observe), whoami)

		skip := fiberaccess.WithSkipper(func(c fiber.Ctx) bool { return conformance.SkipOpen(c.Path()) })
		app.Group("/skip", fiberaccess.Middleware(v, skip)).
			Get("/open", whoami).
			Get("/open/admin", fiberaccess.RequireGroups(conformance.AdminGroup), whoami).
			Get("/open/me", me).
			Get("/closed", whoami)

		app.Group("/optional", fiberaccess.Middleware(v, fiberaccess.WithOptionalAuth(), fiberaccess.WithLoginRedirect())).
			Get("/whoami", whoami).
			Get("/admin", fiberaccess.RequireGroups(conformance.AdminGroup), whoami).
			Get("/me", me)

		app.Get("/bare/whoami", whoami)
		app.Get("/bare/admin", fiberaccess.RequireGroups(conformance.AdminGroup), whoami)
		app.Get("/bare/me", me)
		app.Get("/nil/whoami", fiberaccess.Middleware(nil), whoami)

		app.Group("/ctx", inject(s.Inject)).
			Get("/whoami", whoami).
			Get("/me", me).
			Get("/admin", fiberaccess.RequireGroups(conformance.AdminGroup), whoami)
		return serve(t, app)
	})
}

// TestCtxIsAContext: the fiber.Ctx itself, as a context.Context, finds what the middleware
// stored (its Value reads the request's user values), so that core.CallerFromContext(c) is
// not a silent miss; the same holds for a skipped route's "seen, no caller", which
// adapter.Accessors tell from a request no middleware saw.
func TestCtxIsAContext(t *testing.T) {
	team := testkit.NewTeam(t)
	app := fiber.New()
	app.Use(fiberaccess.Middleware(testkit.Verifier(t, team), fiberaccess.WithSkipper(func(c fiber.Ctx) bool { return c.Path() == "/skipped" })))
	app.Get("/*", func(c fiber.Ctx) error {
		caller, _ := fiberaccess.Caller(c)
		return c.SendString(conformance.ContextReport(c, caller))
	})
	conformance.CheckContext(t, serve(t, app), team)
}

// serve runs app on a loopback listener until the test ends.
func serve(t conformance.TB, app *fiber.App) string {
	t.Helper()
	ln := testkit.Listen(t)
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) }()
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
	noContent := func(c fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) }
	app.Get("/", fiberaccess.Middleware(testkit.Verifier(t, team)), noContent)
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
	conformance.CheckOptions[fiberaccess.Option, fiberaccess.RequireOption](t, conformance.Options{
		WithSkipper: fiberaccess.WithSkipper, WithLoginRedirect: fiberaccess.WithLoginRedirect,
		WithOptionalAuth: fiberaccess.WithOptionalAuth, WithErrorHandler: fiberaccess.WithErrorHandler,
		WithObserver: fiberaccess.WithObserver,
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
		app := fiber.New(c.config)
		app.Get("/", fiberaccess.Middleware(v), func(c fiber.Ctx) error { return c.SendStatus(http.StatusOK) })
		base := serve(t, app)
		cookies := "_ga=GA1.1.1180465126.1714033531; " + core.CookieName + "=" + c.token + "; theme=dark"
		if got := conformance.Status(t, base, conformance.Case{Path: "/", Token: c.token, Cookies: []string{cookies}}); got != c.status {
			t.Errorf("%s: status %d, want %d", c.name, got, c.status)
		}
	}
}
