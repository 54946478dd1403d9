package conformance

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// Case is one request and the answer every adapter must give.
type Case struct {
	Name    string
	Path    string
	Method  string            // default GET
	Header  map[string]string // request headers
	Token   string            // sent in Cf-Access-Jwt-Assertion
	Cookie  string            // sent as the CF_Authorization cookie
	Cookies []string          // Cookie header lines, sent as they are
	Host    string            // the Host header; default: the server's address
	Status  int
	Code    core.Code // the "error" of a JSON refusal
	Body    string    // when set, the exact body
	Contain string    // when set, a string the body must contain
	// Location, when set, is the exact Location of a redirect.
	Location string
	// Lines are header lines sent last, exactly as written and in order, over a connection
	// of the test's own: Go's client would trim their values and merge lines of one name.
	Lines [][2]string
}

// Run runs the whole suite against the server start builds.
func Run(t *testing.T, start Start) {
	team := testkit.NewTeam(t)
	// The misconfigurations the routes hold are logged through slog.Default, which is
	// captured to count them: those that registering the routes finds, before any request,
	// and those that only a request shows.
	v := newVerifier(t, team, time.Minute)
	defaultLog := testkit.CaptureDefaultLog(t)
	var events testkit.EventLog
	injected := Injected()
	base := start(t, Setup{Verifier: v, Observe: events.Add, Inject: injected})
	registered := defaultLog.String()

	admin := team.User("ann@example.com", AdminGroup)
	user := team.User("bob@example.com", "staff")
	svc := team.ServiceToken(ServiceClientID)
	otherSvc := team.ServiceToken("")
	expired := team.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{AdminGroup}, IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
	wrongAud := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"another-application"}})
	orgToken := team.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{AdminGroup}, Type: "org"})
	forged := forge(admin, `"email":"ann@example.com"`, `"email":"eve@example.com"`)
	unsigned := algNone(admin)

	host := strings.TrimPrefix(base, "http://")
	login, err := v.LoginURL(host, "/web/page?x=1&y=%2F&z=a+b%20c")
	if err != nil {
		t.Fatal(err)
	}
	navigate := map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}
	optionalLogin, err := v.LoginURL(host, "/optional/whoami")
	if err != nil {
		t.Fatal(err)
	}

	cases := []Case{
		{Name: "public route, no token", Path: "/public", Status: 200, Body: `{"public":true}`},
		{Name: "no token", Path: "/api/whoami", Status: 401, Code: core.CodeMissingToken},
		{Name: "token in the header", Path: "/api/whoami", Token: admin, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "token in the cookie", Path: "/api/whoami", Cookie: admin, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "a bad header wins over a good cookie", Path: "/api/whoami", Token: forged, Cookie: admin, Status: 401, Code: core.CodeInvalidToken},
		{Name: "the e-mail header alone is never trusted", Path: "/api/whoami", Header: map[string]string{"Cf-Access-Authenticated-User-Email": "ann@example.com"}, Status: 401, Code: core.CodeMissingToken},
		{Name: "cookie name in the wrong case", Path: "/api/whoami", Header: map[string]string{"Cookie": "cf_authorization=" + admin}, Status: 401, Code: core.CodeMissingToken},
		{Name: "token cookie among others", Path: "/api/whoami", Header: map[string]string{"Cookie": "a=1;" + core.CookieName + "=" + admin + `; b="2"`}, Status: 200},
		{Name: "quoted token cookie", Path: "/api/whoami", Cookies: []string{core.CookieName + `="` + admin + `"`}, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "the first of two token cookies counts", Path: "/api/whoami", Header: map[string]string{"Cookie": core.CookieName + "=" + forged + "; " + core.CookieName + "=" + admin}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "the first of two Cookie lines counts", Path: "/api/whoami", Cookies: []string{core.CookieName + "=", core.CookieName + "=" + admin}, Status: 401, Code: core.CodeMissingToken},
		{Name: "the first token cookie counts across lines", Path: "/api/whoami", Cookies: []string{core.CookieName + "=" + forged, core.CookieName + "=" + admin}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "token cookie on a second Cookie line", Path: "/api/whoami", Cookies: []string{"a=1", core.CookieName + "=" + admin}, Status: 200},
		{Name: "token cookie after many Cookie lines", Path: "/api/whoami", Cookies: []string{"a=1", "b=2", "c=3", "d=4", "e=5", core.CookieName + "=" + admin}, Status: 200},
		{Name: "an empty token header is no token: the cookie counts", Path: "/api/whoami", Header: map[string]string{core.HeaderName: ""}, Cookie: user, Status: 200, Contain: `"email":"bob@example.com"`},
		{Name: "token header with white space around", Path: "/api/whoami", Lines: [][2]string{{core.HeaderName, " " + admin + "\t"}}, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "the first of two token headers counts", Path: "/api/whoami", Lines: [][2]string{{core.HeaderName, forged}, {core.HeaderName, admin}}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "token cookie after the framework read the cookies", Path: "/parsed/whoami", Cookies: []string{ParsedCookie + `=1; ` + core.CookieName + `="` + admin + `"`}, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "the first token cookie counts after the framework read the cookies", Path: "/parsed/whoami", Cookies: []string{ParsedCookie + "=1; " + core.CookieName + "=" + forged, core.CookieName + "=" + admin}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "expired token", Path: "/api/whoami", Token: expired, Status: 401, Code: core.CodeInvalidToken},
		{Name: "token for another application", Path: "/api/whoami", Token: wrongAud, Status: 401, Code: core.CodeInvalidToken},
		{Name: "organization token", Path: "/api/admin", Token: orgToken, Status: 401, Code: core.CodeInvalidToken},
		{Name: "tampered payload", Path: "/api/whoami", Token: forged, Status: 401, Code: core.CodeInvalidToken},
		{Name: "alg none", Path: "/api/whoami", Token: unsigned, Status: 401, Code: core.CodeInvalidToken},
		{Name: "garbage token", Path: "/api/whoami", Token: "not-a-token", Status: 401, Code: core.CodeInvalidToken},
		{Name: "service token", Path: "/api/whoami", Token: svc, Status: 200, Contain: `"common_name":"` + ServiceClientID + `"`},

		{Name: "group member", Path: "/api/admin", Token: admin, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "not a group member", Path: "/api/admin", Token: user, Status: 403, Code: core.CodeForbidden},
		{Name: "service token on a group route", Path: "/api/admin", Token: svc, Status: 403, Code: core.CodeForbidden},
		{Name: "no token on a group route", Path: "/api/admin", Status: 401, Code: core.CodeMissingToken},
		{Name: "listed service token", Path: "/api/service", Token: svc, Status: 200, Contain: ServiceClientID},
		{Name: "unlisted service token", Path: "/api/service", Token: otherSvc, Status: 403, Code: core.CodeForbidden},
		{Name: "user on a service-token route", Path: "/api/service", Token: admin, Status: 403, Code: core.CodeForbidden},
		{Name: "requirement with a broken policy", Path: "/api/broken", Token: admin, Status: 500, Code: core.CodeMisconfigured},
		{Name: "requirement with the zero policy", Path: "/api/zero", Token: admin, Status: 500, Code: core.CodeMisconfigured},
		{Name: "requirement of a blank group", Path: "/api/blank", Token: admin, Status: 500, Code: core.CodeMisconfigured},
		{Name: "broken requirement, no token: the middleware answers first", Path: "/api/broken", Status: 401, Code: core.CodeMissingToken},

		{Name: "identity of a user", Path: "/api/me", Token: admin, Status: 200, Contain: `"name":"` + AdminGroup + `"`},
		{Name: "identity of a service token", Path: "/api/me", Token: svc, Status: 403, Code: core.CodeForbidden},

		{Name: "browser navigation without token", Path: "/web/page?x=1&y=%2F&z=a+b%20c", Header: navigate, Status: 302, Location: login},
		{Name: "browser navigation by HEAD", Path: "/web/page?x=1&y=%2F&z=a+b%20c", Method: "HEAD", Header: navigate, Status: 302, Location: login},
		{Name: "browser navigation with an expired token", Path: "/web/page?x=1&y=%2F&z=a+b%20c", Header: navigate, Token: expired, Status: 302, Location: login},
		{Name: "browser navigation with a forged token", Path: "/web/page?x=1&y=%2F", Header: navigate, Token: forged, Status: 401, Code: core.CodeInvalidToken},
		{Name: "API call without token on a redirecting route", Path: "/web/page", Header: map[string]string{"Accept": "application/json"}, Status: 401, Code: core.CodeMissingToken},
		{Name: "form POST without token on a redirecting route", Path: "/web/page", Method: "POST", Header: navigate, Status: 401, Code: core.CodeMissingToken},
		{Name: "browser navigation with a token", Path: "/web/page", Header: navigate, Token: admin, Status: 200},

		{Name: "optional, no token: no caller", Path: "/optional/whoami", Status: 200, Body: `{"caller":null}`},
		{Name: "optional, an empty token header is no token", Path: "/optional/whoami", Header: map[string]string{core.HeaderName: ""}, Status: 200, Body: `{"caller":null}`},
		{Name: "optional, a navigation without token is not redirected", Path: "/optional/whoami", Header: navigate, Status: 200, Body: `{"caller":null}`},
		{Name: "optional, token in the header", Path: "/optional/whoami", Token: admin, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "optional, token in the cookie", Path: "/optional/whoami", Cookie: user, Status: 200, Contain: `"email":"bob@example.com"`},
		{Name: "optional, service token", Path: "/optional/whoami", Token: svc, Status: 200, Contain: ServiceClientID},
		{Name: "optional, forged token", Path: "/optional/whoami", Token: forged, Status: 401, Code: core.CodeInvalidToken},
		{Name: "optional, forged cookie", Path: "/optional/whoami", Cookie: forged, Status: 401, Code: core.CodeInvalidToken},
		{Name: "optional, garbage token", Path: "/optional/whoami", Token: "not-a-token", Status: 401, Code: core.CodeInvalidToken},
		{Name: "optional, expired token", Path: "/optional/whoami", Token: expired, Status: 401, Code: core.CodeInvalidToken},
		{Name: "optional, expired token on a navigation: login", Path: "/optional/whoami", Header: navigate, Token: expired, Status: 302, Location: optionalLogin},
		{Name: "optional, token for another application", Path: "/optional/whoami", Token: wrongAud, Status: 401, Code: core.CodeInvalidToken},
		{Name: "optional, group route without token", Path: "/optional/admin", Status: 401, Code: core.CodeMissingToken},
		{Name: "optional, group route with a member", Path: "/optional/admin", Token: admin, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "optional, group route with an outsider", Path: "/optional/admin", Token: user, Status: 403, Code: core.CodeForbidden},
		{Name: "optional, identity without token", Path: "/optional/me", Status: 401, Code: core.CodeMissingToken},
		{Name: "optional, identity of a user", Path: "/optional/me", Token: admin, Status: 200, Contain: `"name":"` + AdminGroup + `"`},

		{Name: "custom error handler, no token", Path: "/custom/admin", Status: 418, Body: `{"custom":"missing_token"}`},
		{Name: "custom error handler, not a member", Path: "/custom/admin", Token: user, Status: 418, Body: `{"custom":"forbidden"}`},
		{Name: "custom error handler, member", Path: "/custom/admin", Token: admin, Status: 200},
		{Name: "custom error handler, broken requirement", Path: "/custom/broken", Token: admin, Status: 418, Body: `{"custom":"misconfigured"}`},

		{Name: "skipped route", Path: "/skip/open", Status: 200, Body: `{"caller":null}`},
		{Name: "skipped route, even with a token", Path: "/skip/open", Token: admin, Status: 200, Body: `{"caller":null}`},
		{Name: "requirement on a skipped route", Path: "/skip/open/admin", Token: admin, Status: 401, Code: core.CodeMissingToken},
		{Name: "identity on a skipped route", Path: "/skip/open/me", Token: admin, Status: 401, Code: core.CodeMissingToken},
		{Name: "route next to a skipped one", Path: "/skip/closed", Status: 401, Code: core.CodeMissingToken},

		{Name: "accessors without middleware report no caller", Path: "/bare/whoami", Token: admin, Status: 200, Body: `{"caller":null}`},
		{Name: "requirement without middleware, valid token", Path: "/bare/admin", Token: admin, Status: 500, Code: core.CodeMisconfigured},
		{Name: "requirement without middleware, no token", Path: "/bare/admin", Status: 500, Code: core.CodeMisconfigured},
		{Name: "identity without middleware", Path: "/bare/me", Token: admin, Status: 500, Code: core.CodeMisconfigured},
		{Name: "middleware without a verifier", Path: "/nil/whoami", Token: admin, Status: 500, Code: core.CodeMisconfigured},

		// A caller put in the request's context.Context, as a test does, is the caller: every
		// accessor and requirement reads it there, whatever the framework's own store holds.
		{Name: "caller from the context", Path: "/ctx/whoami", Status: 200, Contain: `"email":"` + injected.Claims.Email + `"`},
		{Name: "identity from the context's caller", Path: "/ctx/me", Status: 200, Contain: "Ivy Injected"},
		{Name: "requirement on the context's caller", Path: "/ctx/admin", Status: 200, Contain: `"email":"` + injected.Claims.Email + `"`},
	}
	if big := LargeToken(team, "ann@example.com"); len(big) < 2800 || len(big) > 4000 {
		t.Fatalf("LargeToken is %d bytes, not about 3 KB", len(big))
	}
	cases = append(cases, largeTokenCases(team)...)
	accessorsLoggedBefore := accessorsLogged.Swap(true) // the cases reach /bare/whoami and /bare/me
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { Check(t, base, c) })
	}

	t.Run("misconfigurations are logged once each, where they are found", func(t *testing.T) {
		// Registering the routes logs what it can know: the middleware without a verifier
		// and the four requirements whose policies were built with a mistake.
		wantLines(t, "registering the routes", registered, []logLines{
			{1, []string{"reason=no_verifier"}}, {4, []string{"reason=invalid_policy"}},
			{0, []string{"reason=no_middleware"}}, {0, []string{"route="}},
		})
		for range 2 {
			Check(t, base, Case{Path: "/bare/admin", Token: admin, Status: 500, Code: core.CodeMisconfigured})
			Check(t, base, Case{Path: "/api/broken", Token: admin, Status: 500, Code: core.CodeMisconfigured})
			Check(t, base, Case{Path: "/bare/whoami", Token: admin, Status: 200, Body: `{"caller":null}`})
			Check(t, base, Case{Path: "/bare/me", Token: admin, Status: 500, Code: core.CodeMisconfigured})
		}
		// A request finds the requirement without middleware (one line, naming the route);
		// the broken requirements, logged already, log nothing more. The adapter's accessors
		// log the request no middleware saw once per process, whichever of them met it first.
		accessor := 1
		if accessorsLoggedBefore {
			accessor = 0
		}
		wantLines(t, "serving", defaultLog.String(), []logLines{
			{1, []string{"reason=no_verifier"}}, {4, []string{"reason=invalid_policy"}},
			{1, []string{"reason=no_middleware", `route="GET /bare/admin"`}}, {1, []string{"route="}},
			{1 + accessor, []string{"reason=no_middleware"}},
		})
	})

	t.Run("route requirements are observed", func(t *testing.T) {
		for _, c := range []struct {
			token  string
			status int
			want   []string // "outcome code policy" of each event, the middleware's first
		}{
			{admin, 200, []string{"allowed  ", "allowed  groups(admins)"}},
			{user, 403, []string{"allowed  ", "denied forbidden groups(admins)"}},
			{svc, 403, []string{"allowed  ", "denied forbidden groups(admins)"}},
			{"", 401, []string{"denied missing_token "}},
		} {
			events.Reset()
			Check(t, base, Case{Path: "/observed/admin", Token: c.token, Status: c.status})
			if got := summary(events.All()); !slices.Equal(got, c.want) {
				t.Errorf("status %d: observed %q, want %q", c.status, got, c.want)
			}
		}
	})

	t.Run("identity outage", func(t *testing.T) {
		fresh := team.User("cy@example.com", AdminGroup) // not in the identity cache
		team.FailIdentity(accesstest.Status500)
		Check(t, base, Case{Path: "/api/admin", Token: fresh, Status: 503, Code: core.CodeUnavailable})
		Check(t, base, Case{Path: "/api/me", Token: fresh, Status: 503, Code: core.CodeUnavailable})
		Check(t, base, Case{Path: "/api/whoami", Token: fresh, Status: 200}) // needs no identity
		team.FailIdentity(accesstest.Healthy)
		time.Sleep(identityFailureTTL) // the failure is remembered until then
		Check(t, base, Case{Path: "/api/admin", Token: fresh, Status: 200})
	})

	t.Run("key rotation", func(t *testing.T) {
		team.RotateKeys()
		Check(t, base, Case{Path: "/api/admin", Token: team.User("dee@example.com", AdminGroup), Status: 200})
		Check(t, base, Case{Path: "/api/admin", Token: admin, Status: 200}) // the previous key is still published
	})

	t.Run("invented kids inside the cool-down", func(t *testing.T) {
		// The rotation above fetched the key set and started the cool-down. A token under a
		// kid the set lacks is refused, whatever its iat, unless that iat is recent enough
		// for a key published since the fetch: only then is the answer "try again".
		invented := func(iat time.Time) string {
			tok := accesstest.Token{Email: "ann@example.com", KeyID: fmt.Sprint("invented-", time.Now().UnixNano()), IssuedAt: iat}
			if iat.IsZero() {
				tok.Omit = []string{"iat"}
			}
			return team.Mint(tok)
		}
		for _, iat := range []time.Time{{}, time.Now().Add(-time.Hour), time.Now().Add(365 * 24 * time.Hour)} {
			Check(t, base, Case{Path: "/api/whoami", Token: invented(iat), Status: 401, Code: core.CodeInvalidToken})
		}
		Check(t, base, Case{Path: "/api/whoami", Token: invented(time.Now()), Status: 503, Code: core.CodeUnavailable})
	})

	t.Run("keys unavailable, then healed without restart", func(t *testing.T) {
		down := testkit.NewTeam(t)
		down.FailCerts(accesstest.Status500)
		base := start(t, Setup{Verifier: newVerifier(t, down, 50*time.Millisecond), Observe: func(core.Event) {}, Inject: injected})
		tok := down.User("ann@example.com", AdminGroup)
		Check(t, base, Case{Path: "/api/whoami", Token: tok, Status: 503, Code: core.CodeUnavailable})
		Check(t, base, Case{Path: "/public", Status: 200})
		Check(t, base, Case{Path: "/optional/whoami", Status: 200, Body: `{"caller":null}`})
		Check(t, base, Case{Path: "/optional/whoami", Token: tok, Status: 503, Code: core.CodeUnavailable})
		Check(t, base, Case{Path: "/optional/whoami", Token: tok, Header: navigate, Status: 503, Code: core.CodeUnavailable})
		down.FailCerts(accesstest.Healthy)
		testkit.Eventually(t, "a 200 once the certs endpoint healed", func() bool {
			return Status(t, base, Case{Path: "/api/whoami", Token: tok}) == 200
		})
	})

	t.Run("tokens of one length on keep-alive connections stay apart, and their callers outlive the requests", func(t *testing.T) { keepAlive(t, team, v, base) })

	t.Run("applications bound to hosts", func(t *testing.T) { hostBound(t, team, start) })

	t.Run("load under rotation and flapping endpoints", func(t *testing.T) { chaos(t, start) })

	t.Run("concurrent mixed traffic", func(t *testing.T) {
		mixed := []Case{
			{Path: "/api/admin", Token: admin, Status: 200},
			{Path: "/api/admin", Token: user, Status: 403, Code: core.CodeForbidden},
			{Path: "/api/admin", Status: 401, Code: core.CodeMissingToken},
			{Path: "/api/whoami", Token: forged, Status: 401, Code: core.CodeInvalidToken},
			{Path: "/api/service", Token: svc, Status: 200},
			{Path: "/api/whoami", Cookie: user, Status: 200},
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 40 {
					Check(t, base, mixed[(w+i)%len(mixed)])
				}
			})
		}
		wg.Wait()
	})
}

// accessorsLogged says whether a Run of this process has sent a request that no middleware
// saw to the adapter's accessors, which log that mistake once per process.
var accessorsLogged atomic.Bool

// logLines is how many lines of a log, at Error and with a fix, must hold every string of has.
type logLines struct {
	n   int
	has []string
}

func wantLines(t *testing.T, when, out string, want []logLines) {
	t.Helper()
	for _, w := range want {
		got := 0
		for line := range strings.Lines(out) {
			if strings.Contains(line, "level=ERROR") && strings.Contains(line, "fix=") &&
				!slices.ContainsFunc(w.has, func(s string) bool { return !strings.Contains(line, s) }) {
				got++
			}
		}
		if got != w.n {
			t.Errorf("%s: %d error lines with %q and a fix, want %d:\n%s", when, got, w.has, w.n, out)
		}
	}
}

// Injected is the caller of Setup.Inject: a caller a test would make, with no token and no
// verifier, whose identity says it is in AdminGroup.
func Injected() *core.Caller {
	return core.NewCaller(&core.Claims{Subject: "ivy-uuid", Email: "ivy@example.com", Type: "app"},
		&core.Identity{Name: "Ivy Injected", Email: "ivy@example.com", Groups: []core.Group{{Name: AdminGroup}}})
}

// summary is "outcome code policy" for each event.
func summary(events []core.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = fmt.Sprintf("%s %s %s", e.Outcome, e.Code, e.Policy)
	}
	return out
}

func newVerifier(t *testing.T, team *accesstest.Server, cooldown time.Duration) *core.Verifier {
	t.Helper()
	cfg := testkit.Config(team, nil)
	cfg.RequestTimeout = 2 * time.Second
	cfg.Keys.UnknownKeyCooldown = cooldown
	cfg.Identities.FailureTTL = identityFailureTTL
	return testkit.NewVerifier(t, cfg)
}

// identityFailureTTL is short, so that the identity outage heals within the run.
const identityFailureTTL = 100 * time.Millisecond

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Check sends c's request to base and checks the answer. It may run on any goroutine.
func Check(t testing.TB, base string, c Case) {
	t.Helper()
	resp, body, err := do(base, c)
	if err != nil {
		t.Errorf("%s %s: %v", method(c), c.Path, err)
		return
	}
	where := fmt.Sprintf("%s %s", method(c), c.Path)
	if resp.StatusCode != c.Status {
		t.Errorf("%s: status %d, want %d; body %s", where, resp.StatusCode, c.Status, body)
		return
	}
	h := resp.Header
	if c.Code != "" {
		var got struct{ Error, Message string }
		if err := json.Unmarshal(body, &got); err != nil || got.Error != string(c.Code) || got.Message == "" {
			t.Errorf("%s: body %s, want error %q with a message", where, body, c.Code)
		}
		if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", where, ct)
		}
	}
	if c.Status >= 300 && c.Status != 418 && h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", where, h.Get("Cache-Control"))
	}
	if (h.Get("Retry-After") != "") != (c.Status == 503) {
		t.Errorf("%s: Retry-After %q with status %d", where, h.Get("Retry-After"), c.Status)
	}
	if c.Location != "" && h.Get("Location") != c.Location {
		t.Errorf("%s: Location\n  %q\nwant\n  %q", where, h.Get("Location"), c.Location)
	}
	if _, typed := h["Content-Type"]; c.Status == http.StatusFound && (len(body) != 0 || typed) {
		t.Errorf("%s: a redirect with Content-Type %q and body %q", where, h.Values("Content-Type"), body)
	}
	if c.Body != "" && string(body) != c.Body {
		t.Errorf("%s: body %q, want %q", where, body, c.Body)
	}
	if c.Contain != "" && !strings.Contains(string(body), c.Contain) {
		t.Errorf("%s: body %s lacks %s", where, body, c.Contain)
	}
}

// Status sends c's request to base and returns the answer's status, failing the test when
// there is none.
func Status(t testing.TB, base string, c Case) int {
	resp, _, err := do(base, c)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// NewRequest is c's request as a server hands it to a handler (see httptest.NewRequest), for
// tests that call a router directly. c's Lines are not sent.
func NewRequest(c Case) *http.Request {
	req := httptest.NewRequest(method(c), c.Path, nil)
	prepare(req, c)
	return req
}

// prepare gives req c's Host and headers.
func prepare(req *http.Request, c Case) {
	if c.Host != "" {
		req.Host = c.Host
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	if c.Token != "" {
		req.Header.Set(core.HeaderName, c.Token)
	}
	if c.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: core.CookieName, Value: c.Cookie})
	}
	for _, line := range c.Cookies {
		req.Header.Add("Cookie", line)
	}
}

func do(base string, c Case) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method(c), base+c.Path, nil)
	if err != nil {
		return nil, nil, err
	}
	prepare(req, c)
	if len(c.Lines) > 0 {
		return doRaw(req, c.Lines)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// doRaw sends req, then lines exactly as written, on a connection of its own.
func doRaw(req *http.Request, lines [][2]string) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", req.URL.Host, client.Timeout)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(client.Timeout)); err != nil {
		return nil, nil, err
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	var raw strings.Builder
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", req.Method, req.URL.RequestURI(), host)
	for name, values := range req.Header {
		for _, v := range values {
			fmt.Fprintf(&raw, "%s: %s\r\n", name, v)
		}
	}
	for _, l := range lines {
		fmt.Fprintf(&raw, "%s: %s\r\n", l[0], l[1])
	}
	raw.WriteString("\r\n")
	if _, err := io.WriteString(conn, raw.String()); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func method(c Case) string {
	if c.Method == "" {
		return http.MethodGet
	}
	return c.Method
}

// forge swaps old for new in the token's payload, keeping its signature.
func forge(token, old, new string) string {
	p := strings.Split(token, ".")
	payload, _ := b64Decode(p[1])
	return p[0] + "." + b64Encode([]byte(strings.Replace(string(payload), old, new, 1))) + "." + p[2]
}

// algNone re-labels the token as unsigned and drops its signature.
func algNone(token string) string {
	p := strings.Split(token, ".")
	return b64Encode([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + p[1] + "."
}

func b64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func b64Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
