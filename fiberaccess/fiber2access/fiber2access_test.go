package fiber2access_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/fiberaccess/fiber2access"
	"github.com/cfaccess/cfaccess/internal/conformance"
)

func whoami(c *fiber.Ctx) error {
	claims, _ := fiber2access.Claims(c)
	return send(c, conformance.WhoAmI(claims, c.UserContext()))
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
func send(c *fiber.Ctx, r core.Response) error {
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

// TestConformance runs the shared suite through a real fiber app on loopback.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		app := fiber.New(fiber.Config{ReadBufferSize: core.MaxHeaderBytes(0), DisableStartupMessage: true}) // as the README says
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
		web.Post("/page", whoami)

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
// finds what the middleware stored (its Value reads the request's user values, fiber's
// Locals), so that core.FromContext(c.Context()) is not a silent miss; the same holds for a
// skipped route's "no caller".
func TestRequestCtxIsAContext(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	app := fiber.New()
	app.Use(fiber2access.Middleware(verifier(t, team), fiber2access.WithSkipper(func(c *fiber.Ctx) bool { return c.Path() == "/skipped" })))
	app.Get("/*", func(c *fiber.Ctx) error {
		claims, ok := core.FromContext(c.Context())
		fromLocals, _ := c.Locals(fiber2access.CallerKey).(*core.Caller)
		_, err := core.IdentityFromContext(c.Context())
		if !ok {
			return c.SendString(fmt.Sprintf("no caller; store %v; identity %v", fromLocals, err))
		}
		caller, _ := fiber2access.Caller(c)
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
	app.Use(fiber2access.Middleware(nil))
	app.Get("/", func(*fiber.Ctx) error {
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

	app := fiber.New(quiet)
	// parsed reads a cookie through fiber first, which makes fasthttp move the raw Cookie
	// lines out of its header list: the view must still find the token.
	parsed := app.Group("/parsed", func(c *fiber.Ctx) error { _ = c.Cookies("x"); return c.Next() })
	parsed.Use(fiber2access.Middleware(v, fiber2access.WithObserver(observeSource)))
	parsed.Get("/", source)
	app.Use(fiber2access.Middleware(v, fiber2access.WithLoginRedirect(), fiber2access.WithObserver(observeSource)))
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

func source(c *fiber.Ctx) error {
	if _, ok := fiber2access.Caller(c); !ok {
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

// quiet is the configuration of the apps that serve: fiber v2 prints a banner on Listener
// unless its configuration says not to.
var quiet = fiber.Config{DisableStartupMessage: true}

// serve runs app on a loopback listener until the test ends.
func serve(t conformance.TB, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
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

// TestCacheHitAllocations holds the middleware to what a cache hit must cost: the Caller and
// the context that carries it, nothing for the request view or fiber's store.
func TestCacheHitAllocations(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	app := fiber.New()
	app.Use(fiber2access.Middleware(verifier(t, team)))
	app.Get("/", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
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
	conformance.CheckOptions(t, reflect.TypeFor[fiber2access.Option](), reflect.TypeFor[fiber2access.RequireOption](), []conformance.OptionCase{
		{Name: "WithSkipper", Func: fiber2access.WithSkipper, Middleware: true},
		{Name: "WithLoginRedirect", Func: fiber2access.WithLoginRedirect, Middleware: true},
		{Name: "WithOptionalAuth", Func: fiber2access.WithOptionalAuth, Middleware: true},
		{Name: "WithErrorHandler", Func: fiber2access.WithErrorHandler, Middleware: true, Require: true},
		{Name: "WithObserver", Func: fiber2access.WithObserver, Middleware: true, Require: true},
	})
}

// TestOptionalAuthStoresNoCaller: a request that WithOptionalAuth lets through without a
// token has no caller in fiber's Locals, not even a nil *core.Caller, while c.UserContext() and
// the *fiber.Ctx itself mark it as seen: Identity answers 401, not 500, through either.
func TestOptionalAuthStoresNoCaller(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	app := fiber.New()
	app.Get("/", fiber2access.Middleware(verifier(t, team), fiber2access.WithOptionalAuth()), func(c *fiber.Ctx) error {
		_, err := fiber2access.Identity(c)
		_, errCtx := core.IdentityFromContext(c.Context())
		return c.SendString(fmt.Sprintf("stored=%v identity=%v/%v", c.Locals(fiber2access.CallerKey) != nil, conformance.CodeOf(err), conformance.CodeOf(errCtx)))
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
		c.config.DisableStartupMessage = true
		app := fiber.New(c.config)
		app.Get("/", fiber2access.Middleware(v), func(c *fiber.Ctx) error { return c.SendStatus(http.StatusOK) })
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

// TestTokenStormCallersOutliveTheirRequests sends a storm of requests, distinct tokens of one
// length on several keep-alive connections at once, so that fasthttp keeps reading new
// tokens into the buffers that held others, and keeps every request's *core.Caller beyond
// the request, as a handler's goroutine would. Every answer must name its own token's user,
// and afterwards every kept Caller must still be its user's: its claims, and its identity,
// which get-identity looks up with the token the Caller kept. A token kept without a copy
// would by then hold another user's bytes.
func TestTokenStormCallersOutliveTheirRequests(t *testing.T) {
	team := accesstest.NewServer()
	t.Cleanup(team.Close)
	v := verifier(t, team)

	const users, conns, perConn = 24, 6, 40
	var tokens, emails []string
	for i := range users {
		emails = append(emails, fmt.Sprintf("user%02d@example.com", i))
		tokens = append(tokens, team.Mint(accesstest.Token{Email: emails[i], IssuedAt: time.Now().Truncate(time.Second)}))
		if len(tokens[i]) != len(tokens[0]) {
			t.Fatalf("tokens of different lengths (%d, %d): the test needs one length", len(tokens[i]), len(tokens[0]))
		}
	}

	type kept struct {
		user   int
		caller *core.Caller
	}
	var mu sync.Mutex
	var callers []kept
	app := fiber.New(quiet)
	app.Get("/user/:n", fiber2access.Middleware(v), func(c *fiber.Ctx) error {
		caller, ok := fiber2access.Caller(c)
		n, err := c.ParamsInt("n")
		if !ok || err != nil {
			return c.SendStatus(http.StatusInternalServerError)
		}
		mu.Lock()
		callers = append(callers, kept{n, caller})
		mu.Unlock()
		return c.SendString(caller.Claims.Email)
	})
	base := serve(t, app)

	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(conn)
			for i := range perConn {
				n := (w*7 + i*5) % users
				how := core.HeaderName + ": " + tokens[n]
				if i%2 == 1 {
					how = "Cookie: a=b; CF_Authorization=" + tokens[n]
				}
				if _, err := fmt.Fprintf(conn, "GET /user/%d HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", n, how); err != nil {
					t.Error(err)
					return
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Errorf("connection %d, request %d: %v", w, i, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != emails[n] {
					t.Errorf("connection %d, request %d with %s's token: %d %s", w, i, emails[n], resp.StatusCode, body)
					return
				}
			}
		})
	}
	wg.Wait()

	if len(callers) != conns*perConn {
		t.Fatalf("%d callers kept, want %d", len(callers), conns*perConn)
	}
	for _, k := range callers {
		if got := k.caller.Claims.Email; got != emails[k.user] {
			t.Fatalf("a kept caller of %s now says %s", emails[k.user], got)
		}
		id, err := k.caller.Identity(context.Background())
		if err != nil || id.Email != emails[k.user] {
			t.Fatalf("the identity of a kept caller of %s: %v, %v", emails[k.user], id, err)
		}
	}
}
