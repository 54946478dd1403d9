package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// requestWith is a GET carrying token in the Access header.
func requestWith(token string) core.Request {
	r := httptest.NewRequest("GET", "https://app.example.com/admin?tab=1", nil)
	if token != "" {
		r.Header.Set(core.HeaderName, token)
	}
	return core.HTTPRequest(r)
}

func newGuard(t testing.TB, v *core.Verifier, opts ...core.GuardOption) *core.Guard {
	t.Helper()
	g, err := core.NewGuard(v, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// serve runs a guard decision through Response.Write, as a net/http adapter does.
func serve(g *core.Guard, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	if d := g.Check(r.Context(), core.HTTPRequest(r)); d.Allowed() {
		rec.WriteHeader(http.StatusOK)
	} else {
		d.Response().Write(rec)
	}
	return rec
}

func TestGuardGroupPolicy(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	g := newGuard(t, v, core.GuardPolicy(core.Groups("admins")))
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
	wantCode(t, outsider.Err, core.CodeForbidden, core.ReasonPolicy)
	if outsider.Caller != nil || outsider.Response().Status != http.StatusForbidden {
		t.Errorf("outsider decision = %+v", outsider)
	}

	before := srv.IdentityRequests()
	svc := g.Check(ctx, requestWith(srv.ServiceToken("")))
	wantCode(t, svc.Err, core.CodeForbidden, core.ReasonPolicy)
	if n := srv.IdentityRequests() - before; n != 0 {
		t.Errorf("a group policy looked up a service token's identity (%d calls)", n)
	}
}

func TestGuardServiceTokenPolicy(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	const id = "0123456789abcdef0123456789abcdef.access"
	g := newGuard(t, v, core.GuardPolicy(core.AnyOf(core.ServiceTokens(id), core.Groups("admins"))))
	ctx := context.Background()
	if d := g.Check(ctx, requestWith(srv.ServiceToken(id))); !d.Allowed() || !d.Caller.Claims.IsServiceToken() {
		t.Fatalf("listed service token refused: %v", d.Err)
	}
	d := g.Check(ctx, requestWith(srv.ServiceToken("ffffffffffffffffffffffffffffffff.access")))
	wantCode(t, d.Err, core.CodeForbidden, core.ReasonPolicy)
	if d := g.Check(ctx, requestWith(srv.User("ann@example.com", "admins"))); !d.Allowed() {
		t.Fatalf("admin refused: %v", d.Err)
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("identity calls = %d, want 1 (only for the user)", n)
	}
}

// TestGuardIdentityOutage: a group policy that cannot get groups fails closed with 503 and
// Retry-After, within the request timeout.
func TestGuardIdentityOutage(t *testing.T) {
	for _, fault := range []accesstest.Fault{accesstest.Status500, accesstest.Garbage, accesstest.Hang} {
		t.Run(fmt.Sprint(fault), func(t *testing.T) {
			srv := newServer(t)
			cfg := testConfig(srv, nil)
			cfg.RequestTimeout = 250 * time.Millisecond
			g := newGuard(t, newVerifier(t, cfg), core.GuardPolicy(core.Groups("admins")))
			srv.FailIdentity(fault)
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(core.HeaderName, srv.User("ann@example.com", "admins"))
			start := time.Now()
			rec := serve(g, r)
			if took := time.Since(start); took > 3*cfg.RequestTimeout {
				t.Errorf("took %v, beyond the request timeout", took)
			}
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "10" {
				t.Fatalf("status %d, Retry-After %q, body %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "unavailable" || body["message"] == "" {
				t.Errorf("body = %s (%v)", rec.Body, err)
			}
		})
	}
}

func TestGuardConcurrentFirstRequestsShareOneLookup(t *testing.T) {
	srv := newServer(t)
	g := newGuard(t, newVerifier(t, testConfig(srv, nil)), core.GuardPolicy(core.Groups("admins")))
	tok := srv.User("ann@example.com", "admins")
	srv.FailIdentity(accesstest.Held)
	var wg sync.WaitGroup
	allowed := make([]bool, 20)
	for i := range allowed {
		wg.Go(func() { allowed[i] = g.Check(context.Background(), requestWith(tok)).Allowed() })
	}
	eventually(t, "the identity call", func() bool { return srv.IdentityRequests() == 1 })
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

// TestGuardStatusTable checks every row of the behaviour table, body and headers included.
func TestGuardStatusTable(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	g := newGuard(t, v, core.GuardPolicy(core.Emails("ann@example.com")))
	down := accesstest.NewServer()
	down.FailCerts(accesstest.Status500)
	defer down.Close()
	cfgDown := testConfig(down, nil)
	gDown := newGuard(t, newVerifier(t, cfgDown))

	for _, tc := range []struct {
		name   string
		g      *core.Guard
		setup  func(r *http.Request)
		status int
		code   string
	}{
		{"allowed", g, func(r *http.Request) { r.Header.Set(core.HeaderName, srv.User("ann@example.com")) }, 200, ""},
		{"allowed by cookie", g, func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: core.CookieName, Value: srv.User("ann@example.com")})
		}, 200, ""},
		{"no token", g, func(*http.Request) {}, 401, "missing_token"},
		{"only the e-mail header, which is never trusted", g, func(r *http.Request) {
			r.Header.Set("Cf-Access-Authenticated-User-Email", "ann@example.com")
		}, 401, "missing_token"},
		{"invalid token", g, func(r *http.Request) { r.Header.Set(core.HeaderName, "a.b.c") }, 401, "invalid_token"},
		{"bad header beats a good cookie", g, func(r *http.Request) {
			r.Header.Set(core.HeaderName, "a.b.c")
			r.AddCookie(&http.Cookie{Name: core.CookieName, Value: srv.User("ann@example.com")})
		}, 401, "invalid_token"},
		{"refused by policy", g, func(r *http.Request) { r.Header.Set(core.HeaderName, srv.User("bob@example.com")) }, 403, "forbidden"},
		{"keys unavailable", gDown, func(r *http.Request) { r.Header.Set(core.HeaderName, down.User("ann@example.com")) }, 503, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			tc.setup(r)
			rec := serve(tc.g, r)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 {
				return
			}
			var body struct{ Error, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.code || body.Message == "" {
				t.Errorf("body = %s (%v), want error %q", rec.Body, err, tc.code)
			}
			h := rec.Header()
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
	srv := newServer(t)
	clk := newClock()
	v := newVerifier(t, testConfig(srv, clk))
	g := newGuard(t, v, core.GuardLoginRedirect())
	plain := newGuard(t, v)
	expired := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now().Add(-3 * time.Hour)})
	wrongAud := srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other"}})
	login, err := v.LoginURL("app.example.com", "/docs/a%20b?x=1&y=2")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		g       *core.Guard
		method  string
		headers map[string]string
		token   string
		status  int
	}{
		{"navigation, no token", g, "GET", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}, "", 302},
		{"HEAD navigation", g, "HEAD", map[string]string{"Sec-Fetch-Mode": "navigate"}, "", 302},
		{"old browser asking for HTML", g, "GET", map[string]string{"Accept": "text/html,application/xhtml+xml"}, "", 302},
		{"navigation, expired token", g, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, expired, 302},
		{"script fetch accepting HTML", g, "GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, "", 401},
		{"API client", g, "GET", map[string]string{"Accept": "application/json"}, "", 401},
		{"no Accept at all", g, "GET", nil, "", 401},
		{"form POST navigation", g, "POST", map[string]string{"Sec-Fetch-Mode": "navigate"}, "", 401},
		{"navigation, token for another app", g, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, wrongAud, 401},
		{"navigation, forged token", g, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, "a.b.c", 401},
		{"redirect not enabled", plain, "GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/docs/a%20b?x=1&y=2", nil)
			r.Host = "app.example.com"
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if tc.token != "" {
				r.Header.Set(core.HeaderName, tc.token)
			}
			rec := serve(tc.g, r)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			if tc.status == 302 {
				if got := rec.Header().Get("Location"); got != login {
					t.Errorf("Location = %q, want %q", got, login)
				}
				if rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("redirect body %q, headers %v", rec.Body, rec.Header())
				}
			}
		})
	}
	// A Host that is not a host name gets no redirect (and no crafted login path).
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "evil.example/../x"
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	if rec := serve(g, r); rec.Code != 401 {
		t.Errorf("bad Host: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestGuardObserver(t *testing.T) {
	srv := newServer(t)
	var mu sync.Mutex
	var events []core.Event
	var logs logBuffer
	observe := core.LogEvents(slogTo(&logs))
	v := newVerifier(t, testConfig(srv, nil))
	g := newGuard(t, v, core.GuardPolicy(core.AnyUser()), core.GuardObserver(func(e core.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		observe(e)
	}))
	ann := srv.User("ann@example.com")
	svc := srv.ServiceToken("0123456789abcdef0123456789abcdef.access")
	for _, tok := range []string{ann, ann, "", svc, "x.y.z"} {
		g.Check(context.Background(), requestWith(tok))
	}
	want := []struct {
		outcome core.Outcome
		cached  bool
		code    core.Code
		subject string
	}{
		{core.OutcomeAllowed, false, "", "ann@example.com"},
		{core.OutcomeAllowed, true, "", "ann@example.com"},
		{core.OutcomeDenied, false, core.CodeMissingToken, ""},
		{core.OutcomeDenied, false, core.CodeForbidden, "0123456789abcdef0123456789abcdef.access"},
		{core.OutcomeDenied, false, core.CodeInvalidToken, ""},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Outcome != w.outcome || e.TokenCached != w.cached || e.Code != w.code || e.Subject != w.subject || e.Latency <= 0 {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
		if (e.TokenID == "") != (i == 2) || (e.TokenID != "" && len(e.TokenID) != 12) {
			t.Errorf("event %d TokenID = %q", i, e.TokenID)
		}
	}
	if events[0].TokenID != events[1].TokenID || events[0].TokenID == events[3].TokenID {
		t.Error("TokenID does not tell tokens apart")
	}
	out := logs.String()
	for _, tok := range []string{ann, svc} {
		_, p, s := segments(t, tok)
		if strings.Contains(out, p) || strings.Contains(out, s) {
			t.Fatalf("a token leaked into the decision log:\n%s", out)
		}
	}
	if !strings.Contains(out, "outcome=allowed") || !strings.Contains(out, "reason=policy") {
		t.Errorf("decision log:\n%s", out)
	}
}

func TestRequirement(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	d := newGuard(t, v).Check(context.Background(), requestWith(srv.User("ann@example.com", "admins")))
	if !d.Allowed() {
		t.Fatal(d.Err)
	}
	ctx := core.ContextWithCaller(context.Background(), d.Caller)
	r := requestWith("")
	if got := core.NewRequirement(core.Groups("admins")).Check(ctx, r); !got.Allowed() || got.Caller != d.Caller {
		t.Errorf("member: %+v", got)
	}
	wantCode(t, core.NewRequirement(core.Groups("ops")).Check(ctx, r).Err, core.CodeForbidden, core.ReasonPolicy)

	// The middleware let the request through without a caller (a skipped route): a token is
	// needed here, 401, not a misconfiguration.
	skipped := core.ContextWithCaller(context.Background(), nil)
	d = core.NewRequirement(core.AnyUser()).Check(skipped, r)
	wantCode(t, d.Err, core.CodeMissingToken, core.ReasonNoCaller)
	if d.Response().Status != http.StatusUnauthorized {
		t.Errorf("skipped route: status %d", d.Response().Status)
	}
	if c, ok := core.FromContext(ctx); !ok || c.Email != "ann@example.com" {
		t.Errorf("FromContext = %+v, %v", c, ok)
	}
	if _, ok := core.CallerFromContext(skipped); ok {
		t.Error("the mark of a skipped route reads as a caller")
	}
}

// TestRequirementWithoutMiddleware: a requirement that no middleware precedes refuses with 500
// misconfigured, without Retry-After, and says so once, with the fix and the route.
func TestRequirementWithoutMiddleware(t *testing.T) {
	logs := captureDefaultLog(t)
	q := core.NewRequirement(core.Groups("admins"))
	for range 3 {
		r := httptest.NewRequest("GET", "/bare/admin?secret=1", nil)
		d := q.Check(r.Context(), core.HTTPRequest(r))
		wantCode(t, d.Err, core.CodeMisconfigured, core.ReasonNoMiddleware)
		resp := d.Response()
		rec := httptest.NewRecorder()
		resp.Write(rec)
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Retry-After") != "" ||
			rec.Body.String() != `{"error":"misconfigured","message":"access control is misconfigured on the server"}` {
			t.Fatalf("answer %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Fatalf("%d error lines for three requests, want 1:\n%s", n, out)
	}
	for _, want := range []string{"reason=no_middleware", `route="GET /bare/admin"`, "fix=", "groups(admins)"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the log names the query:\n%s", out)
	}
}

// TestMisconfiguredPolicies: whatever the mistake (the zero Policy, a blank group, an empty
// list, nested), a requirement answers 500 misconfigured, never 403 or 503, and logs it once
// through the Logger of the verifier that the caller came from.
func TestMisconfiguredPolicies(t *testing.T) {
	srv := newServer(t)
	v, logs := loggingVerifier(t, srv)
	d := newGuard(t, v).Check(context.Background(), requestWith(srv.User("ann@example.com", "admins")))
	ctx := core.ContextWithCaller(context.Background(), d.Caller)
	defaultLogs := captureDefaultLog(t)

	for name, p := range map[string]core.Policy{
		"zero":        {},
		"no groups":   core.Groups(),
		"blank group": core.Groups(""),
		"empty AnyOf": core.AnyOf(),
		"nested":      core.AnyOf(core.AnyUser(), core.Emails(" ")),
		"nil func":    core.PolicyFunc("f", nil),
	} {
		t.Run(name, func(t *testing.T) {
			before := strings.Count(logs.String(), "level=ERROR")
			q := core.NewRequirement(p)
			for _, ctx := range []context.Context{ctx, context.Background(), core.ContextWithCaller(context.Background(), nil)} {
				d := q.Check(ctx, requestWith(""))
				wantCode(t, d.Err, core.CodeMisconfigured, core.ReasonInvalidPolicy)
				if d.Response().Status != http.StatusInternalServerError {
					t.Errorf("status %d", d.Response().Status)
				}
			}
			if n := strings.Count(logs.String(), "level=ERROR") - before; n != 1 {
				t.Errorf("%d lines in the verifier's log, want 1:\n%s", n, logs.String())
			}
		})
	}
	if defaultLogs.String() != "" {
		t.Errorf("logged to slog.Default although the verifier's Logger was known:\n%s", defaultLogs)
	}
}

// TestMiddlewareGuardMisconfigured: a middleware's guard built with a mistake refuses every
// request with 500 misconfigured, logs it once, at construction, through the verifier's
// Logger (slog.Default without a verifier), and its observer sees the refusals.
func TestMiddlewareGuardMisconfigured(t *testing.T) {
	srv := newServer(t)
	v, logs := loggingVerifier(t, srv)
	defaultLogs := captureDefaultLog(t)
	var events []core.Event
	observe := core.GuardObserver(func(e core.Event) { events = append(events, e) })

	for _, tc := range []struct {
		name   string
		v      *core.Verifier
		opts   []core.GuardOption
		reason core.Reason
		log    *logBuffer
	}{
		{"bad policy", v, []core.GuardOption{core.GuardPolicy(core.Groups()), observe}, core.ReasonInvalidPolicy, logs},
		{"nil verifier", nil, []core.GuardOption{observe}, core.ReasonNoVerifier, defaultLogs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events = nil
			before := strings.Count(tc.log.String(), "level=ERROR")
			g := core.MiddlewareGuard(tc.v, tc.opts...)
			for range 2 {
				d := g.Check(context.Background(), requestWith(srv.User("ann@example.com", "admins")))
				wantCode(t, d.Err, core.CodeMisconfigured, tc.reason)
				if d.Response().Status != http.StatusInternalServerError {
					t.Errorf("status %d", d.Response().Status)
				}
			}
			if n := strings.Count(tc.log.String(), "level=ERROR") - before; n != 1 || !strings.Contains(tc.log.String(), "fix=") {
				t.Errorf("%d error lines, want 1 with the fix:\n%s", n, tc.log)
			}
			if len(events) != 2 || events[0].Code != core.CodeMisconfigured {
				t.Errorf("observed %+v", events)
			}
		})
	}
}

// TestRequirementObserver: a route requirement's decisions reach its observer, refusals
// included, with the policy named.
func TestRequirementObserver(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	g := newGuard(t, v)
	var events []core.Event
	q := core.NewRequirement(core.Groups("admins"), core.RequirementObserver(func(e core.Event) { events = append(events, e) }))
	ann := srv.User("ann@example.com", "admins")
	for _, tok := range []string{ann, srv.User("bob@example.com", "staff")} {
		d := g.Check(context.Background(), requestWith(tok))
		q.Check(core.ContextWithCaller(context.Background(), d.Caller), requestWith(tok))
	}
	q.Check(context.Background(), requestWith(""))
	want := []struct {
		outcome core.Outcome
		code    core.Code
		subject string
	}{
		{core.OutcomeAllowed, "", "ann@example.com"},
		{core.OutcomeDenied, core.CodeForbidden, "bob@example.com"},
		{core.OutcomeDenied, core.CodeMisconfigured, ""},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Outcome != w.outcome || e.Code != w.code || e.Subject != w.subject || e.Policy != "groups(admins)" || e.Source != core.SourceNone {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	if events[0].TokenID == "" || events[2].TokenID != "" {
		t.Errorf("token IDs %q, %q", events[0].TokenID, events[2].TokenID)
	}
}

// TestIdentityFromContextMarks: without a caller, the identity is a 401 when the middleware
// let the request through, and a misconfiguration when no middleware saw it.
func TestIdentityFromContextMarks(t *testing.T) {
	captureDefaultLog(t)
	_, err := core.IdentityFromContext(core.ContextWithCaller(context.Background(), nil))
	wantCode(t, err, core.CodeMissingToken, core.ReasonNoCaller)
	_, err = core.IdentityFromContext(context.Background())
	wantCode(t, err, core.CodeMisconfigured, core.ReasonNoMiddleware)
	if !errors.Is(err, core.ErrMisconfigured) || core.ErrorResponse(err).Status != http.StatusInternalServerError {
		t.Errorf("%v answers %d", err, core.ErrorResponse(err).Status)
	}

	id := &core.Identity{Email: "ann@example.com", Groups: []core.Group{{Name: "admins"}}}
	ctx := core.ContextWithCaller(context.Background(), core.NewCaller(&core.Claims{Email: "ann@example.com"}, id))
	if got, err := core.IdentityFromContext(ctx); got != id || err != nil {
		t.Errorf("IdentityFromContext = %v, %v", got, err)
	}
	if d := core.NewRequirement(core.Groups("admins")).Check(ctx, requestWith("")); !d.Allowed() {
		t.Errorf("a test's caller refused: %v", d.Err)
	}
}

// TestContextKey: a context whose Value reads a store of its own finds the caller when the
// store holds it under ContextKey, as fiber's Ctx does.
func TestContextKey(t *testing.T) {
	c := core.NewCaller(&core.Claims{Email: "ann@example.com"}, nil)
	store := storeContext{Context: context.Background(), values: map[any]any{core.ContextKey(): c}}
	if got, ok := core.CallerFromContext(store); !ok || got != c {
		t.Errorf("CallerFromContext = %v, %v", got, ok)
	}
}

type storeContext struct {
	context.Context
	values map[any]any
}

func (s storeContext) Value(key any) any { return s.values[key] }

func TestNewGuardRejectsMistakes(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	for name, p := range map[string]core.Policy{
		"zero":        {},
		"no groups":   core.Groups(),
		"blank group": core.Groups("admins", " "),
		"empty AnyOf": core.AnyOf(),
		"empty AllOf": core.AllOf(),
		"nested":      core.AnyOf(core.AnyUser(), core.Emails("")),
		"nil func":    core.PolicyFunc("f", nil),
	} {
		if _, err := core.NewGuard(v, core.GuardPolicy(p)); err == nil || !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: NewGuard error = %v, want ErrConfig", name, err)
		}
	}
	if _, err := core.NewGuard(nil); !errors.Is(err, core.ErrConfig) {
		t.Errorf("nil verifier: %v", err)
	}
}

// TestGuardKeepsTheCausesAnswer: a policy that fails because of the identity lookup answers as
// the lookup does, even inside AnyOf: an outage is 503, a session Access refuses is 401.
func TestGuardKeepsTheCausesAnswer(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
	g := newGuard(t, v, core.GuardPolicy(core.AnyOf(core.Emails("x@y.z"), core.Groups("admins"))))
	payload, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": srv.AUD, "sub": "u", "email": "ann@example.com",
		"identity_nonce": "unknown", "exp": time.Now().Add(time.Hour).Unix()})
	refused := srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+srv.CurrentKeyID()+`"}`), payload)
	wantCode(t, g.Check(context.Background(), requestWith(refused)).Err, core.CodeInvalidToken, core.ReasonIdentityRefused)

	srv.FailIdentity(accesstest.Status500)
	wantCode(t, g.Check(context.Background(), requestWith(srv.User("bob@example.com", "admins"))).Err,
		core.CodeUnavailable, core.ReasonIdentityUnavailable)
}
