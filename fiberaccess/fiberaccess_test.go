package fiberaccess_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/fiberaccess"
	"github.com/cfaccess/cfaccess/internal/conformance"
)

func whoami(c fiber.Ctx) error {
	claims, _ := fiberaccess.Claims(c)
	return send(c, conformance.WhoAmI(claims, c.Context()))
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
func send(c fiber.Ctx, r core.Response) error {
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

// TestConformance runs the shared suite through a real fiber app on loopback.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		app := fiber.New(fiber.Config{ReadBufferSize: core.MaxHeaderBytes(0)}) // as the README says
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
		web.Post("/page", whoami)

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
// stored (fiber's Ctx.Value reads the request's user values), so that core.FromContext(c)
// is not a silent miss; the same holds for a skipped route's "no caller".
func TestCtxIsAContext(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	app := fiber.New()
	app.Use(fiberaccess.Middleware(verifier(t, team), fiberaccess.WithSkipper(func(c fiber.Ctx) bool { return c.Path() == "/skipped" })))
	app.Get("/*", func(c fiber.Ctx) error {
		claims, ok := core.FromContext(c)
		fromLocals, _ := c.Locals(fiberaccess.CallerKey).(*core.Caller)
		_, err := core.IdentityFromContext(c)
		if !ok {
			return c.SendString(fmt.Sprintf("no caller; store %v; identity %v", fromLocals, err))
		}
		caller, _ := fiberaccess.Caller(c)
		return c.SendString(fmt.Sprintf("%s %v %v", claims.Email, caller.Claims == claims && fromLocals == caller, err))
	})

	for _, tc := range []struct{ path, want string }{
		{"/", "ann@example.com true <nil>"},
		{"/skipped", "no caller; store <nil>; identity cfaccess: missing_token (no_caller): an Access token is required"},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set(core.HeaderName, team.User("ann@example.com"))
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, body, tc.want)
		}
	}
}

func TestMiddlewareWithoutVerifierRefusesEverything(t *testing.T) {
	app := fiber.New()
	app.Use(fiberaccess.Middleware(nil))
	app.Get("/", func(fiber.Ctx) error {
		t.Error("a request got through a middleware without a verifier")
		return nil
	})
	resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"misconfigured"`) || resp.Header.Get("Retry-After") != "" {
		t.Errorf("status %d, Retry-After %q, body %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// TestRequestView checks what the middleware reads from a fasthttp request: the header and
// the cookie by the rules of core.TokenFrom and core.CookieValue, quoted cookie values,
// several Cookie lines, and the method, host and URI of the login redirect.
func TestRequestView(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	v := verifier(t, team)
	good := team.User("ann@example.com")
	bad := good[:strings.LastIndexByte(good, '.')] + ".c2lnbmF0dXJl"

	app := fiber.New()
	// parsed reads a cookie through fiber first, which makes fasthttp move the raw Cookie
	// lines out of its header list: the view must still find the token.
	parsed := app.Group("/parsed", func(c fiber.Ctx) error { _ = c.Cookies("x"); return c.Next() })
	parsed.Use(fiberaccess.Middleware(v, fiberaccess.WithObserver(observeSource)))
	parsed.Get("/", source)
	app.Use(fiberaccess.Middleware(v, fiberaccess.WithLoginRedirect(), fiberaccess.WithObserver(observeSource)))
	app.All("/*", source)
	base := serve(t, app)
	host := strings.TrimPrefix(base, "http://")

	for _, c := range []struct {
		name    string
		method  string
		path    string
		header  [][2]string // in order; repeated names make repeated lines
		status  int
		want    string // the body: the token's source, or the error code
		locFrom string // for a redirect: the URI the login URL must carry
	}{
		{name: "header", header: [][2]string{{core.HeaderName, good}}, status: 200, want: "header"},
		{name: "header with spaces around", header: [][2]string{{core.HeaderName, " " + good + "\t"}}, status: 200, want: "header"},
		{name: "cookie", header: [][2]string{{"Cookie", "CF_Authorization=" + good}}, status: 200, want: "cookie"},
		{name: "cookie among others", header: [][2]string{{"Cookie", `a=1;CF_Authorization=` + good + `; b="2"`}}, status: 200, want: "cookie"},
		{name: "quoted cookie", header: [][2]string{{"Cookie", `CF_Authorization="` + good + `"`}}, status: 200, want: "cookie"},
		{name: "cookie on a second Cookie line", header: [][2]string{{"Cookie", "a=1"}, {"Cookie", "CF_Authorization=" + good}}, status: 200, want: "cookie"},
		{name: "first cookie wins across lines", header: [][2]string{{"Cookie", "CF_Authorization=" + bad}, {"Cookie", "CF_Authorization=" + good}}, status: 401, want: "invalid_token"},
		{name: "first cookie wins within a line", header: [][2]string{{"Cookie", "CF_Authorization=" + bad + "; CF_Authorization=" + good}}, status: 401, want: "invalid_token"},
		{name: "many Cookie lines", header: [][2]string{{"Cookie", "a=1"}, {"Cookie", "b=2"}, {"Cookie", "c=3"}, {"Cookie", "d=4"}, {"Cookie", "e=5"}, {"Cookie", "CF_Authorization=" + good}}, status: 200, want: "cookie"},
		{name: "cookie name in another case", header: [][2]string{{"Cookie", "cf_authorization=" + good}}, status: 401, want: "missing_token"},
		{name: "bad header wins over good cookie", header: [][2]string{{core.HeaderName, bad}, {"Cookie", "CF_Authorization=" + good}}, status: 401, want: "invalid_token"},
		{name: "empty header falls back to the cookie", header: [][2]string{{core.HeaderName, ""}, {"Cookie", "CF_Authorization=" + good}}, status: 200, want: "cookie"},
		{name: "first of two headers", header: [][2]string{{core.HeaderName, bad}, {core.HeaderName, good}}, status: 401, want: "invalid_token"},
		{name: "cookie after fiber parsed cookies", path: "/parsed/", header: [][2]string{{"Cookie", `x=1; CF_Authorization="` + good + `"`}}, status: 200, want: "cookie"},
		{name: "navigation: the URI as sent", path: "/a%20b/c?q=%2F&r=a+b", header: [][2]string{{"Sec-Fetch-Mode", "navigate"}}, status: 302, locFrom: "/a%20b/c?q=%2F&r=a+b"},
		{name: "navigation by HEAD", method: "HEAD", path: "/x?y=1", header: [][2]string{{"Sec-Fetch-Mode", "navigate"}}, status: 302, locFrom: "/x?y=1"},
		{name: "no redirect for DELETE", method: "DELETE", path: "/x", header: [][2]string{{"Sec-Fetch-Mode", "navigate"}}, status: 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			method, path := c.method, c.path
			if method == "" {
				method = "GET"
			}
			if path == "" {
				path = "/"
			}
			var req strings.Builder
			fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, host)
			for _, h := range c.header {
				fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
			}
			req.WriteString("\r\n")
			resp, body := roundTrip(t, base, req.String(), method)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, c.status, body)
			}
			if c.want != "" && !strings.Contains(body, c.want) {
				t.Errorf("body %s, want %s", body, c.want)
			}
			if c.locFrom != "" {
				want, err := v.LoginURL(host, c.locFrom)
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.Header.Get("Location"); got != want {
					t.Errorf("Location\n  %s\nwant\n  %s", got, want)
				}
			}
		})
	}
}

// lastSource is where the middleware's observer says the token of the request under way was
// found; the requests of TestRequestView go one at a time.
var lastSource atomic.Value

func observeSource(e core.Event) { lastSource.Store(e.Source.String()) }

func source(c fiber.Ctx) error {
	if _, ok := fiberaccess.Caller(c); !ok {
		return c.SendString("no caller")
	}
	return c.SendString(lastSource.Load().(string))
}

// roundTrip sends a raw request, so that header lines are exactly as written.
func roundTrip(t *testing.T, base, raw, method string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func verifier(t *testing.T, team *accesstest.Server) *core.Verifier {
	t.Helper()
	cfg := team.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serve runs app on a loopback listener until the test ends.
func serve(t conformance.TB, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
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

// TestCacheHitAllocations holds the middleware to what a cache hit must cost: the Caller and
// the context that carries it, nothing for the request view or fiber's store.
func TestCacheHitAllocations(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	app := fiber.New()
	app.Use(fiberaccess.Middleware(verifier(t, team)))
	app.Get("/", func(c fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	handle := app.Handler()

	for _, how := range []string{core.HeaderName + ": ", "Cookie: a=1; CF_Authorization="} {
		var rc fasthttp.RequestCtx
		raw := "GET /?q=1 HTTP/1.1\r\nHost: example.com\r\n" + how + team.User("ann@example.com") + "\r\n\r\n"
		if err := rc.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatal(err)
		}
		handle(&rc) // verifies, and fills the cache
		if rc.Response.StatusCode() != http.StatusNoContent {
			t.Fatalf("%s: status %d", how, rc.Response.StatusCode())
		}
		allocs := testing.AllocsPerRun(100, func() {
			rc.Response.Reset()
			handle(&rc)
		})
		if allocs > 2 {
			t.Errorf("%s: %.1f allocations per cache hit, want at most 2", how, allocs)
		}
	}
}

// TestOptionsApplyWhereTheyCan: Require takes the options that apply to it, and only those.
func TestOptionsApplyWhereTheyCan(t *testing.T) {
	conformance.CheckOptions(t, reflect.TypeFor[fiberaccess.Option](), reflect.TypeFor[fiberaccess.RequireOption](), []conformance.OptionCase{
		{Name: "WithSkipper", Func: fiberaccess.WithSkipper, Middleware: true},
		{Name: "WithLoginRedirect", Func: fiberaccess.WithLoginRedirect, Middleware: true},
		{Name: "WithOptionalAuth", Func: fiberaccess.WithOptionalAuth, Middleware: true},
		{Name: "WithErrorHandler", Func: fiberaccess.WithErrorHandler, Middleware: true, Require: true},
		{Name: "WithObserver", Func: fiberaccess.WithObserver, Middleware: true, Require: true},
	})
}

// TestOptionalAuthStoresNoCaller: a request that WithOptionalAuth lets through without a
// token has no caller in fiber's Locals, not even a nil *core.Caller, while c.Context() and
// the fiber.Ctx itself mark it as seen: Identity answers 401, not 500, through either.
func TestOptionalAuthStoresNoCaller(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	app := fiber.New()
	app.Get("/", fiberaccess.Middleware(verifier(t, team), fiberaccess.WithOptionalAuth()), func(c fiber.Ctx) error {
		_, err := fiberaccess.Identity(c)
		_, errCtx := core.IdentityFromContext(c)
		return c.SendString(fmt.Sprintf("stored=%v identity=%v/%v", c.Locals(fiberaccess.CallerKey) != nil, conformance.CodeOf(err), conformance.CodeOf(errCtx)))
	})
	for token, want := range map[string]string{
		"":                                    "stored=false identity=missing_token/missing_token",
		team.User("ann@example.com", "staff"): "stored=true identity=/",
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if token != "" {
			req.Header.Set(core.HeaderName, token)
		}
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("token %t: %q, want %q", token != "", body, want)
		}
	}
}

// TestReadBufferForAccessTokens: fiber's default read buffer, which also bounds a request's
// headers, refuses a realistic token sent as Access sends it (431, before any middleware
// runs); core.MaxHeaderBytes, as the README says, lets through even the largest token the
// verifier reads, twice, so that cfaccess gives the answer.
func TestReadBufferForAccessTokens(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	v := verifier(t, team)
	large := conformance.LargeToken(team, "ann@example.com")
	largest := strings.Repeat("a", core.DefaultMaxTokenSize)
	for _, c := range []struct {
		name   string
		config fiber.Config
		token  string
		status int
	}{
		{"default buffer, a large token", fiber.Config{}, large, http.StatusRequestHeaderFieldsTooLarge},
		{"MaxHeaderBytes, a large token", fiber.Config{ReadBufferSize: core.MaxHeaderBytes(0)}, large, http.StatusOK},
		{"MaxHeaderBytes, the largest token read", fiber.Config{ReadBufferSize: core.MaxHeaderBytes(0)}, largest, http.StatusUnauthorized},
	} {
		app := fiber.New(c.config)
		app.Get("/", fiberaccess.Middleware(v), func(c fiber.Ctx) error { return c.SendStatus(http.StatusOK) })
		base := serve(t, app)
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set(core.HeaderName, c.token)
		req.Header.Set("Cookie", "_ga=GA1.1.1180465126.1714033531; "+core.CookieName+"="+c.token+"; theme=dark")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}
}
