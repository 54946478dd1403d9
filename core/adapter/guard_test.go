package adapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// guardedOrigin serves ok behind g on loopback and returns its URL.
func guardedOrigin(t testing.TB, g *adapter.Guard) string {
	t.Helper()
	return testkit.Serve(t, middleware(g, http.HandlerFunc(ok)))
}

func TestGuardGroupPolicy(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	g := newGuard(t, v, adapter.WithPolicy(core.Groups("admins")))
	ctx := context.Background()

	member := g.Check(ctx, requestWith(srv.User("ann@example.com", "admins", "ops")))
	if !member.Allowed() || member.Caller.Claims.Email != "ann@example.com" {
		t.Fatalf("member refused: %+v", member.Err)
	}
	id, err := member.Caller.Identity(ctx) // already looked up by the policy: no second call
	if err != nil || id.Email != "ann@example.com" || srv.IdentityRequests() != 1 {
		t.Fatalf("caller identity = %v, %v after %d calls", id, err, srv.IdentityRequests())
	}

	outsider := g.Check(ctx, requestWith(srv.User("bob@example.com", "ops")))
	testkit.WantCode(t, outsider.Err, core.CodeForbidden, core.ReasonPolicy)
	if outsider.Caller != nil || outsider.Allowed() || outsider.Response().Status != http.StatusForbidden {
		t.Errorf("outsider decision = %+v", outsider)
	}

	before := srv.IdentityRequests()
	svc := g.Check(ctx, requestWith(srv.ServiceToken("")))
	testkit.WantCode(t, svc.Err, core.CodeForbidden, core.ReasonPolicy)
	if n := srv.IdentityRequests() - before; n != 0 {
		t.Errorf("a group policy looked up a service token's identity (%d calls)", n)
	}
}

func TestGuardServiceTokenPolicy(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	const id = "0123456789abcdef0123456789abcdef.access"
	g := newGuard(t, v, adapter.WithPolicy(core.AnyOf(core.ServiceTokens(id), core.Groups("admins"))))
	ctx := context.Background()
	if d := g.Check(ctx, requestWith(srv.ServiceToken(id))); !d.Allowed() || !d.Caller.Claims.IsServiceToken() {
		t.Fatalf("listed service token refused: %v", d.Err)
	}
	d := g.Check(ctx, requestWith(srv.ServiceToken("ffffffffffffffffffffffffffffffff.access")))
	testkit.WantCode(t, d.Err, core.CodeForbidden, core.ReasonPolicy)
	if d := g.Check(ctx, requestWith(srv.User("ann@example.com", "admins"))); !d.Allowed() {
		t.Fatalf("admin refused: %v", d.Err)
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("identity calls = %d, want 1 (only for the user)", n)
	}
}

// TestGuardIdentityOutage: a group policy that cannot get groups fails closed with 503 and
// Retry-After, and gives up after the request timeout rather than waiting for a team domain
// that hangs.
func TestGuardIdentityOutage(t *testing.T) {
	for name, fault := range map[string]accesstest.Fault{"500": accesstest.Status500, "garbage": accesstest.Garbage, "hang": accesstest.Hang} {
		t.Run(name, func(t *testing.T) {
			srv := testkit.NewTeam(t)
			cfg := testkit.Config(srv, nil)
			cfg.RequestTimeout = 250 * time.Millisecond
			u := guardedOrigin(t, newGuard(t, testkit.NewVerifier(t, cfg), adapter.WithPolicy(core.Groups("admins"))))
			srv.FailIdentity(fault)
			resp := testkit.Get(t, u, "", map[string]string{core.HeaderName: srv.User("ann@example.com", "admins")})
			if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "10" {
				t.Fatalf("status %d, Retry-After %q, body %s", resp.Status, resp.Header.Get("Retry-After"), resp.Body)
			}
			if code, msg := errorBody(t, resp.Body); code != "unavailable" || msg == "" {
				t.Errorf("body = %s", resp.Body)
			}
		})
	}
}

func TestGuardConcurrentFirstRequestsShareOneLookup(t *testing.T) {
	srv := testkit.NewTeam(t)
	g := newGuard(t, testkit.Verifier(t, srv), adapter.WithPolicy(core.Groups("admins")))
	tok := srv.User("ann@example.com", "admins")
	srv.FailIdentity(accesstest.Held)
	var wg sync.WaitGroup
	allowed := make([]bool, 20)
	for i := range allowed {
		wg.Go(func() { allowed[i] = g.Check(context.Background(), requestWith(tok)).Allowed() })
	}
	testkit.Eventually(t, "the identity call", func() bool { return srv.IdentityRequests() == 1 })
	srv.FailIdentity(accesstest.Healthy)
	wg.Wait()
	for i, ok := range allowed {
		if !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	for range 100 {
		if !g.Check(context.Background(), requestWith(tok)).Allowed() {
			t.Fatal("refused on a warm cache")
		}
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("%d identity calls for one token, want 1", n)
	}
}

// TestGuardStatusTable checks every row of the behaviour table over real HTTP, body and
// headers included.
func TestGuardStatusTable(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	u := guardedOrigin(t, newGuard(t, v, adapter.WithPolicy(core.Emails("ann@example.com"))))
	down := testkit.NewTeam(t)
	down.FailCerts(accesstest.Status500)
	uDown := guardedOrigin(t, newGuard(t, testkit.Verifier(t, down)))
	uBroken := guardedOrigin(t, adapter.MiddlewareGuard(nil))
	ann := srv.User("ann@example.com")

	for _, tc := range []struct {
		name    string
		u       string
		headers map[string]string
		status  int
		code    string
	}{
		{"allowed", u, map[string]string{core.HeaderName: ann}, 200, ""},
		{"allowed by cookie", u, map[string]string{"Cookie": core.CookieName + "=" + ann}, 200, ""},
		{"no token", u, nil, 401, "missing_token"},
		{"only the e-mail header, which is never trusted", u, map[string]string{"Cf-Access-Authenticated-User-Email": "ann@example.com"}, 401, "missing_token"},
		{"invalid token", u, map[string]string{core.HeaderName: "a.b.c"}, 401, "invalid_token"},
		{"bad header beats a good cookie", u, map[string]string{core.HeaderName: "a.b.c", "Cookie": core.CookieName + "=" + ann}, 401, "invalid_token"},
		{"refused by policy", u, map[string]string{core.HeaderName: srv.User("bob@example.com")}, 403, "forbidden"},
		{"keys unavailable", uDown, map[string]string{core.HeaderName: down.User("ann@example.com")}, 503, "unavailable"},
		{"misconfigured middleware", uBroken, map[string]string{core.HeaderName: ann}, 500, "misconfigured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.status == 500 {
				testkit.CaptureDefaultLog(t)
			}
			resp := testkit.Get(t, tc.u+"/x", "", tc.headers)
			if resp.Status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", resp.Status, tc.status, resp.Body)
			}
			if tc.status == 200 {
				if resp.Body != `{"caller":"ann@example.com"}`+"\n" {
					t.Errorf("the handler saw %s", resp.Body)
				}
				return
			}
			if code, msg := errorBody(t, resp.Body); code != tc.code || msg == "" {
				t.Errorf("body = %s, want error %q", resp.Body, tc.code)
			}
			h := resp.Header
			if h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("headers = %v", h)
			}
			if (h.Get("Retry-After") != "") != (tc.status == 503) {
				t.Errorf("Retry-After = %q with status %d", h.Get("Retry-After"), tc.status)
			}
		})
	}
}

func TestGuardLoginRedirect(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	u := guardedOrigin(t, newGuard(t, v, adapter.WithLoginRedirect()))
	plain := guardedOrigin(t, newGuard(t, v))
	expired := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now().Add(-3 * time.Hour), ExpiresAt: clk.Now().Add(-2 * time.Hour)})
	wrongAud := srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other"}})
	const uri = "/docs/a%20b?x=1&y=2"
	login, err := v.LoginURL("app.example.com", uri)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		u       string
		method  string
		headers map[string]string
		token   string
		status  int
	}{
		{"navigation, no token", u, "GET", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, "", 302},
		{"HEAD navigation", u, "HEAD", map[string]string{"Sec-Fetch-Mode": "navigate"}, "", 302},
		{"old browser asking for HTML", u, "GET", map[string]string{"Accept": "text/html,application/xhtml+xml"}, "", 302},
		{"navigation, expired token", u, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, expired, 302},
		{"script fetch accepting HTML", u, "GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, "", 401},
		{"API client", u, "GET", map[string]string{"Accept": "application/json"}, "", 401},
		{"no Accept at all", u, "GET", nil, "", 401},
		{"form POST navigation", u, "POST", map[string]string{"Sec-Fetch-Mode": "navigate"}, "", 401},
		{"navigation, token for another app", u, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, wrongAud, 401},
		{"navigation, forged token", u, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, "a.b.c", 401},
		{"redirect not enabled", plain, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{}
			for k, v := range tc.headers {
				headers[k] = v
			}
			if tc.token != "" {
				headers[core.HeaderName] = tc.token
			}
			resp := testkit.Send(t, tc.method, tc.u+uri, "app.example.com", headers)
			if resp.Status != tc.status {
				t.Fatalf("status = %d, want %d", resp.Status, tc.status)
			}
			if tc.status == 302 {
				if got := resp.Header.Get("Location"); got != login {
					t.Errorf("Location = %q, want %q", got, login)
				}
				if resp.Body != "" || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "" {
					t.Errorf("redirect body %q, headers %v", resp.Body, resp.Header)
				}
			}
		})
	}
	// A Host that is not a host name gets no redirect (and no crafted login path).
	resp := testkit.Get(t, u+"/", "evil.example/../x", map[string]string{"Sec-Fetch-Mode": "navigate"})
	if resp.Status != 401 {
		t.Errorf("bad Host: status %d, Location %q", resp.Status, resp.Header.Get("Location"))
	}
}

// TestGuardObserver: every decision reaches the observer, with the subject (a policy's
// refusal included), the token's ID and never the token itself.
func TestGuardObserver(t *testing.T) {
	srv := testkit.NewTeam(t)
	var mu sync.Mutex
	var events []core.Event
	var logs testkit.LogBuffer
	observe := core.LogEvents(testkit.DebugLogger(&logs))
	v := testkit.Verifier(t, srv)
	g := newGuard(t, v, adapter.WithPolicy(core.AnyUser()), adapter.WithObserver(func(e core.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		observe(e)
	}))
	ann := srv.User("ann@example.com")
	const clientID = "0123456789abcdef0123456789abcdef.access"
	svc := srv.ServiceToken(clientID)
	tokens := []string{ann, ann, "", svc, "x.y.z"}
	for _, tok := range tokens {
		g.Check(context.Background(), requestWith(tok))
	}
	want := []struct {
		outcome core.Outcome
		code    core.Code
		reason  core.Reason
		subject string
		policy  string
	}{
		{core.OutcomeAllowed, "", "", "ann@example.com", "any_user"},
		{core.OutcomeAllowed, "", "", "ann@example.com", "any_user"},
		{core.OutcomeDenied, core.CodeMissingToken, "", "", ""},
		{core.OutcomeDenied, core.CodeForbidden, core.ReasonPolicy, clientID, "any_user"},
		{core.OutcomeDenied, core.CodeInvalidToken, core.ReasonMalformed, "", ""},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Outcome != w.outcome || e.Code != w.code || e.Reason != w.reason || e.Subject != w.subject ||
			e.Policy != w.policy || e.Latency <= 0 {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
		wantSrc, wantID := core.SourceHeader, core.TokenID(tokens[i])
		if tokens[i] == "" {
			wantSrc, wantID = core.SourceNone, ""
		}
		if e.Source != wantSrc || e.TokenID != wantID || (wantID != "" && len(wantID) != 12) {
			t.Errorf("event %d: source %v, TokenID %q; want %v, %q", i, e.Source, e.TokenID, wantSrc, wantID)
		}
		if (e.Err == nil) != (w.code == "") {
			t.Errorf("event %d: Err = %v", i, e.Err)
		}
	}
	if events[0].TokenID == events[3].TokenID {
		t.Error("TokenID does not tell tokens apart")
	}
	out := logs.String()
	for _, tok := range []string{ann, svc} {
		_, p, s := testkit.Segments(t, tok)
		if strings.Contains(out, p) || strings.Contains(out, s) {
			t.Fatalf("a token leaked into the decision log:\n%s", out)
		}
	}
	if !strings.Contains(out, "outcome=allowed") || !strings.Contains(out, "reason=policy") ||
		!strings.Contains(out, "token_id="+core.TokenID(ann)) {
		t.Errorf("decision log:\n%s", out)
	}
}

// TestGuardObserverRedirect: a refusal answered with the login redirect is observed as such,
// and a later WithObserver(nil) turns observing off.
func TestGuardObserverRedirect(t *testing.T) {
	_, v := testkit.TeamVerifier(t)
	var events []core.Event
	record := adapter.WithObserver(func(e core.Event) { events = append(events, e) })
	hr := httptest.NewRequest("GET", "https://app.example.com/docs", nil)
	hr.Header.Set("Sec-Fetch-Mode", "navigate")
	r := adapter.HTTPRequest(hr)

	g := newGuard(t, v, adapter.WithLoginRedirect(), record)
	if d := g.Check(context.Background(), r); d.Redirect == "" || d.Allowed() || d.Response().Status != http.StatusFound {
		t.Fatalf("decision %+v, want a redirect", d)
	}
	if len(events) != 1 || events[0].Outcome != core.OutcomeRedirected || events[0].Code != core.CodeMissingToken {
		t.Fatalf("events %+v, want one redirected", events)
	}
	g = newGuard(t, v, adapter.WithLoginRedirect(), record, adapter.WithObserver(nil))
	g.Check(context.Background(), r)
	if len(events) != 1 {
		t.Fatalf("observed after WithObserver(nil): %+v", events[1:])
	}
}

func TestRequirement(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	d := newGuard(t, v).Check(context.Background(), requestWith(srv.User("ann@example.com", "admins")))
	if !d.Allowed() {
		t.Fatal(d.Err)
	}
	ctx := core.ContextWithCaller(context.Background(), d.Caller)
	r := requestWith("")
	if got := adapter.NewRequirement(core.Groups("admins")).Check(ctx, r); !got.Allowed() || got.Caller != d.Caller {
		t.Errorf("member: %+v", got)
	}
	testkit.WantCode(t, adapter.NewRequirement(core.Groups("ops")).Check(ctx, r).Err, core.CodeForbidden, core.ReasonPolicy)

	// The middleware let the request through without a caller (a skipped route): a token is
	// needed here, 401, not a misconfiguration.
	skipped := core.ContextWithCaller(context.Background(), nil)
	d = adapter.NewRequirement(core.AnyUser()).Check(skipped, r)
	testkit.WantCode(t, d.Err, core.CodeMissingToken, core.ReasonNoCaller)
	if d.Response().Status != http.StatusUnauthorized {
		t.Errorf("skipped route: status %d", d.Response().Status)
	}
	if c, ok := core.CallerFromContext(ctx); !ok || c.Claims.Email != "ann@example.com" {
		t.Errorf("CallerFromContext = %+v, %v", c, ok)
	}
	if _, ok := core.CallerFromContext(skipped); ok {
		t.Error("the mark of a skipped route reads as a caller")
	}
}

// TestRequirementWithoutMiddleware: a requirement that no middleware precedes refuses with 500
// misconfigured, without Retry-After, and says so once, with the fix and the route.
func TestRequirementWithoutMiddleware(t *testing.T) {
	logs := testkit.CaptureDefaultLog(t)
	u := testkit.Serve(t, require(adapter.NewRequirement(core.Groups("admins")), ok))
	for range 3 {
		resp := testkit.Get(t, u+"/bare/admin?secret=1", "", nil)
		if resp.Status != http.StatusInternalServerError || resp.Header.Get("Retry-After") != "" ||
			resp.Body != `{"error":"misconfigured","message":"access control is misconfigured on the server"}` {
			t.Fatalf("answer %d %v %s", resp.Status, resp.Header, resp.Body)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Fatalf("%d error lines for three requests, want 1:\n%s", n, out)
	}
	for _, want := range []string{"reason=no_middleware", `route="GET /bare/admin"`, "fix=", "policy=groups(admins)"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the log names the query:\n%s", out)
	}
}

// TestMisconfiguredPolicies: whatever the mistake (the zero Policy, a blank group, a list in
// one string, an empty list, nested), a requirement says so where it is built, once, at
// Error, through slog.Default, and answers every request 500 misconfigured without
// Retry-After, never 403 or 503, and without logging again.
func TestMisconfiguredPolicies(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, verifierLogs := loggingVerifier(t, srv)
	d := newGuard(t, v).Check(context.Background(), requestWith(srv.User("ann@example.com", "admins")))
	if !d.Allowed() {
		t.Fatal(d.Err)
	}
	withCaller := core.ContextWithCaller(context.Background(), d.Caller)

	for name, p := range map[string]core.Policy{
		"zero":          {},
		"no groups":     core.Groups(),
		"blank group":   core.Groups(""),
		"list as one":   core.Groups("admins,ops"),
		"not an e-mail": core.Emails("ann"),
		"empty AnyOf":   core.AnyOf(),
		"nested":        core.AnyOf(core.AnyUser(), core.Emails(" ")),
		"nil func":      core.PolicyFunc("f", nil),
	} {
		t.Run(name, func(t *testing.T) {
			logs := testkit.CaptureDefaultLog(t)
			q := adapter.NewRequirement(p)
			built := logs.String()
			if n := strings.Count(built, "level=ERROR"); n != 1 || !strings.Contains(built, "reason=invalid_policy") ||
				!strings.Contains(built, "fix=") || !strings.Contains(built, "error=") || strings.Contains(built, "route=") {
				t.Fatalf("NewRequirement logged %d error lines, want 1 with the reason, the fix and the mistake:\n%s", n, built)
			}
			for _, ctx := range []context.Context{withCaller, context.Background(), core.ContextWithCaller(context.Background(), nil)} {
				d := q.Check(ctx, requestWith(""))
				testkit.WantCode(t, d.Err, core.CodeMisconfigured, core.ReasonInvalidPolicy)
				if d.Allowed() {
					t.Fatal("allowed")
				}
				resp := d.Response()
				for k := range resp.Headers() {
					if k == "Retry-After" {
						t.Error("a misconfiguration says to retry")
					}
				}
				if resp.Status != http.StatusInternalServerError {
					t.Errorf("status %d", resp.Status)
				}
			}
			if got := logs.String(); got != built {
				t.Errorf("requests logged again:\n%s", strings.TrimPrefix(got, built))
			}
		})
	}
	if strings.Contains(verifierLogs.String(), "level=ERROR") {
		t.Errorf("a requirement logged through the verifier of its caller:\n%s", verifierLogs)
	}
}

// TestMiddlewareGuardMisconfigured: a middleware's guard built with a mistake refuses every
// request with 500 misconfigured, logs it once, at construction, through the verifier's
// Logger (slog.Default without a verifier), and its observer sees the refusals.
func TestMiddlewareGuardMisconfigured(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, logs := loggingVerifier(t, srv)
	defaultLogs := testkit.CaptureDefaultLog(t)
	var events []core.Event
	observe := adapter.WithObserver(func(e core.Event) { events = append(events, e) })

	for _, tc := range []struct {
		name   string
		v      *core.Verifier
		opts   []adapter.Option
		reason core.Reason
		log    *testkit.LogBuffer
	}{
		{"bad policy", v, []adapter.Option{adapter.WithPolicy(core.Groups()), observe}, core.ReasonInvalidPolicy, logs},
		{"optional with a policy", v, []adapter.Option{adapter.WithPolicy(core.AnyUser()), adapter.WithOptionalAuth(), observe}, core.ReasonInvalidPolicy, logs},
		{"nil verifier", nil, []adapter.Option{observe, nil}, core.ReasonNoVerifier, defaultLogs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events = nil
			before := strings.Count(tc.log.String(), "level=ERROR")
			g := adapter.MiddlewareGuard(tc.v, tc.opts...)
			if n := strings.Count(tc.log.String(), "level=ERROR") - before; n != 1 || !strings.Contains(tc.log.String(), "fix=") {
				t.Errorf("%d error lines at construction, want 1 with the fix:\n%s", n, tc.log)
			}
			for _, tok := range []string{srv.User("ann@example.com", "admins"), ""} {
				d := g.Check(context.Background(), requestWith(tok))
				testkit.WantCode(t, d.Err, core.CodeMisconfigured, tc.reason)
				if d.Allowed() || d.Anonymous() || d.Response().Status != http.StatusInternalServerError {
					t.Errorf("decision %+v, status %d", d, d.Response().Status)
				}
			}
			if n := strings.Count(tc.log.String(), "level=ERROR") - before; n != 1 {
				t.Errorf("requests logged again: %d error lines", n)
			}
			if len(events) != 2 || events[0].Code != core.CodeMisconfigured || events[1].Code != core.CodeMisconfigured {
				t.Errorf("observed %+v", events)
			}
		})
	}
}

// TestRequirementObserver: a route requirement's decisions reach its observer, refusals
// included, with the policy and the subject named.
func TestRequirementObserver(t *testing.T) {
	srv := testkit.NewTeam(t)
	testkit.CaptureDefaultLog(t)
	v := testkit.Verifier(t, srv)
	g := newGuard(t, v)
	var events []core.Event
	q := adapter.NewRequirement(core.Groups("admins"), adapter.WithObserver(func(e core.Event) { events = append(events, e) }), nil)
	for _, tok := range []string{srv.User("ann@example.com", "admins"), srv.User("bob@example.com", "staff")} {
		d := g.Check(context.Background(), requestWith(tok))
		q.Check(core.ContextWithCaller(context.Background(), d.Caller), requestWith(tok))
	}
	q.Check(core.ContextWithCaller(context.Background(), nil), requestWith(""))
	q.Check(context.Background(), requestWith(""))
	want := []struct {
		outcome core.Outcome
		code    core.Code
		subject string
	}{
		{core.OutcomeAllowed, "", "ann@example.com"},
		{core.OutcomeDenied, core.CodeForbidden, "bob@example.com"},
		{core.OutcomeDenied, core.CodeMissingToken, ""},
		{core.OutcomeDenied, core.CodeMisconfigured, ""},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Outcome != w.outcome || e.Code != w.code || e.Subject != w.subject || e.Policy != "groups(admins)" ||
			e.Source != core.SourceNone || e.TokenID != "" {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

// TestContextKey: a context whose Value reads a store of its own finds the caller when the
// store holds it under ContextKey, as fiber's Ctx does.
func TestContextKey(t *testing.T) {
	c := core.NewCaller(&core.Claims{Email: "ann@example.com"}, nil)
	store := storeContext{Context: context.Background(), values: map[any]any{adapter.ContextKey(): c}}
	if got, ok := core.CallerFromContext(store); !ok || got != c {
		t.Errorf("CallerFromContext = %v, %v", got, ok)
	}
	if adapter.ContextKey() != adapter.ContextKey() {
		t.Error("ContextKey is not one key")
	}
	// The key is no string: another package's string key cannot collide with it.
	if _, isString := adapter.ContextKey().(string); isString {
		t.Error("ContextKey is a string")
	}
	if got, ok := core.CallerFromContext(context.WithValue(context.Background(), foreignKey{}, c)); ok {
		t.Errorf("another package's key reads as the caller: %v", got)
	}
}

type foreignKey struct{}

type storeContext struct {
	context.Context
	values map[any]any
}

func (s storeContext) Value(key any) any { return s.values[key] }

func TestNewGuardRejectsMistakes(t *testing.T) {
	_, v := testkit.TeamVerifier(t)
	for name, p := range map[string]core.Policy{
		"zero":          {},
		"no groups":     core.Groups(),
		"blank group":   core.Groups("admins", " "),
		"list as one":   core.Groups("admins,ops"),
		"not a domain":  core.EmailDomains("example com"),
		"client secret": core.ServiceTokens("0123456789abcdef"),
		"empty AnyOf":   core.AnyOf(),
		"empty AllOf":   core.AllOf(),
		"nested":        core.AnyOf(core.AnyUser(), core.Emails("")),
		"nil func":      core.PolicyFunc("f", nil),
	} {
		if _, err := adapter.NewGuard(v, adapter.WithPolicy(p)); err == nil || !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: NewGuard error = %v, want ErrConfig", name, err)
		}
	}
	if _, err := adapter.NewGuard(nil); !errors.Is(err, core.ErrConfig) {
		t.Errorf("nil verifier: %v", err)
	}
	if g, err := adapter.NewGuard(v, nil, adapter.WithPolicy(core.AnyUser())); err != nil || g.Verifier() != v {
		t.Errorf("a nil option: %v", err)
	}
}

// TestGuardKeepsTheCausesAnswer: a policy that fails because of the identity lookup answers as
// the lookup does, even inside AnyOf: an outage is 503, a session Access refuses is 401; a
// custom policy's own error is a 503 of its own reason.
func TestGuardKeepsTheCausesAnswer(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	g := newGuard(t, v, adapter.WithPolicy(core.AnyOf(core.Emails("x@y.z"), core.Groups("admins"))))
	payload, err := json.Marshal(map[string]any{"iss": srv.URL, "aud": srv.AUD, "sub": "u", "email": "ann@example.com",
		"identity_nonce": "unknown", "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	refused := srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+srv.CurrentKeyID()+`"}`), payload)
	testkit.WantCode(t, g.Check(context.Background(), requestWith(refused)).Err, core.CodeInvalidToken, core.ReasonIdentityRefused)

	srv.FailIdentity(accesstest.Status500)
	testkit.WantCode(t, g.Check(context.Background(), requestWith(srv.User("bob@example.com", "admins"))).Err,
		core.CodeUnavailable, core.ReasonIdentityUnavailable)

	boom := errors.New("directory down")
	custom := newGuard(t, v, adapter.WithPolicy(core.PolicyFunc("directory", func(context.Context, *core.Caller) (bool, error) {
		return false, boom
	})))
	d := custom.Check(context.Background(), requestWith(srv.User("ann@example.com")))
	testkit.WantCode(t, d.Err, core.CodeUnavailable, core.ReasonPolicyError)
	if !errors.Is(d.Err, boom) || strings.Contains(d.Err.Message, "directory down") {
		t.Errorf("refusal %v: the cause must be kept for the log, out of the message", d.Err)
	}
}
