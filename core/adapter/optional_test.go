package adapter_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// TestOptionalAuth: with WithOptionalAuth, no token means no caller; any token present must
// verify, exactly as without the option.
func TestOptionalAuth(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	g := newGuard(t, v, adapter.WithOptionalAuth())
	redirecting := newGuard(t, v, adapter.WithOptionalAuth(), adapter.WithLoginRedirect())
	down := testkit.NewTeam(t)
	down.FailCerts(accesstest.Status500)
	gDown := newGuard(t, testkit.Verifier(t, down), adapter.WithOptionalAuth())
	expired := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now().Add(-3 * time.Hour), ExpiresAt: clk.Now().Add(-2 * time.Hour)})
	navigate := map[string]string{"Sec-Fetch-Mode": "navigate"}

	for _, tc := range []struct {
		name      string
		g         *adapter.Guard
		header    string // Cf-Access-Jwt-Assertion, when set
		cookie    string
		extra     map[string]string
		anonymous bool
		status    int // of a refusal
		code      core.Code
	}{
		{"no token", g, "", "", nil, true, 0, ""},
		{"no token, navigation with login redirect", redirecting, "", "", navigate, true, 0, ""},
		{"empty header, which carries no credential", g, " ", "", nil, true, 0, ""},
		{"no token while the keys are unavailable", gDown, "", "", nil, true, 0, ""},
		{"only the e-mail header, never trusted", g, "", "", map[string]string{"Cf-Access-Authenticated-User-Email": "ann@example.com"}, true, 0, ""},
		{"valid header", g, srv.User("ann@example.com"), "", nil, false, 0, ""},
		{"valid cookie", g, "", srv.User("ann@example.com"), nil, false, 0, ""},
		{"forged header", g, "a.b.c", "", nil, false, 401, core.CodeInvalidToken},
		{"forged cookie", g, "", "a.b.c", nil, false, 401, core.CodeInvalidToken},
		{"expired cookie", g, "", expired, nil, false, 401, core.CodeInvalidToken},
		{"expired cookie, navigation with login redirect", redirecting, "", expired, navigate, false, 302, core.CodeInvalidToken},
		{"token of another application", g, srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other"}}), "", nil, false, 401, core.CodeInvalidToken},
		{"bad header beside a good cookie", g, "a.b.c", srv.User("ann@example.com"), nil, false, 401, core.CodeInvalidToken},
		{"token while the keys are unavailable", gDown, down.User("ann@example.com"), "", nil, false, 503, core.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/docs", nil)
			r.Host = "app.example.com"
			if tc.header != "" {
				r.Header.Set(core.HeaderName, tc.header)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: core.CookieName, Value: tc.cookie})
			}
			for k, v := range tc.extra {
				r.Header.Set(k, v)
			}
			d := tc.g.Check(context.Background(), adapter.HTTPRequest(r))
			switch {
			case tc.anonymous:
				if !d.Allowed() || !d.Anonymous() || d.Caller != nil || d.Err != nil {
					t.Fatalf("decision %+v, want allowed and anonymous", d)
				}
			case tc.status == 0:
				if !d.Allowed() || d.Anonymous() || d.Caller == nil || d.Caller.Claims.Email != "ann@example.com" {
					t.Fatalf("decision %+v, want allowed with the caller", d)
				}
			default:
				if d.Allowed() || d.Anonymous() || d.Err == nil || d.Err.Code != tc.code || d.Response().Status != tc.status {
					t.Fatalf("decision %+v (%v), want %d %s", d, d.Err, tc.status, tc.code)
				}
			}
		})
	}
}

func TestOptionalAuthWithPolicyIsAConfigurationError(t *testing.T) {
	_, v := testkit.TeamVerifier(t)
	_, err := adapter.NewGuard(v, adapter.WithOptionalAuth(), adapter.WithPolicy(core.Groups("admins")))
	if !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), "WithOptionalAuth") {
		t.Fatalf("NewGuard error = %v, want ErrConfig naming WithOptionalAuth", err)
	}
	// An adapter's guard that cannot be built refuses every request, anonymous ones too.
	g := adapter.MiddlewareGuard(v, adapter.WithPolicy(core.Groups("admins")), adapter.WithOptionalAuth())
	if d := g.Check(context.Background(), requestWith("")); d.Allowed() || d.Anonymous() || d.Response().Status != http.StatusInternalServerError {
		t.Fatalf("decision %+v, want a 500", d)
	}
}

func TestZeroDecisionIsRefused(t *testing.T) {
	var d adapter.Decision
	if d.Allowed() || d.Anonymous() {
		t.Fatal("the zero Decision lets a request through")
	}
	if d := (adapter.Decision{Err: &core.Error{Code: core.CodeInvalidToken}}); d.Allowed() || d.Anonymous() {
		t.Fatal("a refusal is allowed")
	}
}

func TestOptionalAuthObserved(t *testing.T) {
	srv := testkit.NewTeam(t)
	var logs bytes.Buffer
	var events []core.Event
	observe := core.LogEvents(testkit.DebugLogger(&logs))
	g := newGuard(t, testkit.Verifier(t, srv), adapter.WithOptionalAuth(), adapter.WithObserver(func(e core.Event) {
		events = append(events, e)
		observe(e)
	}))
	g.Check(context.Background(), requestWith(""))
	g.Check(context.Background(), requestWith(srv.User("ann@example.com")))
	if len(events) != 2 || events[0].Outcome != core.OutcomeAnonymous || events[0].Source != core.SourceNone ||
		events[0].Subject != "" || events[0].TokenID != "" || events[1].Outcome != core.OutcomeAllowed {
		t.Fatalf("events %+v, want anonymous then allowed", events)
	}
	if !strings.Contains(logs.String(), "level=DEBUG msg=\"cfaccess: request anonymous\"") {
		t.Errorf("an anonymous request is logged as %q, want at Debug: public paths must not flood the log", logs.String())
	}
}

// TestOptionalAuthThroughServer: a public page of an origin, over real HTTP, as a bypassed
// path reaches it: handlers tell an anonymous request from a caller, and a route
// requirement after the optional guard refuses the anonymous one with 401.
func TestOptionalAuthThroughServer(t *testing.T) {
	srv := testkit.NewTeam(t)
	g := newGuard(t, testkit.Verifier(t, srv), adapter.WithOptionalAuth())
	accessors := &adapter.Accessors{Fix: "wrap the mux in the middleware"}
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		if _, err := accessors.Identity(r.Context()); errors.Is(err, core.ErrMissingToken) {
			w.Header().Set("X-Identity", "none")
		}
		ok(w, r)
	})
	mux.HandleFunc("/admin", require(adapter.NewRequirement(core.Groups("admins")), ok))
	u := testkit.Serve(t, middleware(g, mux))

	for _, tc := range []struct {
		path, token string
		status      int
		body        string
	}{
		{"/page", "", 200, `{"caller":null}`},
		{"/page", srv.User("ann@example.com"), 200, `{"caller":"ann@example.com"}`},
		{"/page", "a.b.c", 401, `"error":"invalid_token"`},
		{"/admin", "", 401, `"error":"missing_token"`},
		{"/admin", srv.User("ann@example.com", "staff"), 403, `"error":"forbidden"`},
		{"/admin", srv.User("ann@example.com", "admins"), 200, `{"caller":"ann@example.com"}`},
	} {
		headers := map[string]string{}
		if tc.token != "" {
			headers[core.HeaderName] = tc.token
		}
		resp := testkit.Get(t, u+tc.path, "app.example.com", headers)
		if resp.Status != tc.status || !strings.Contains(resp.Body, tc.body) {
			t.Errorf("%s with %.10q: %d %s, want %d %s", tc.path, tc.token, resp.Status, resp.Body, tc.status, tc.body)
		}
		if tc.path == "/page" && tc.status == 200 && (resp.Header.Get("X-Identity") == "none") != (tc.token == "") {
			t.Errorf("%s with %.10q: Accessors.Identity disagrees with the caller", tc.path, tc.token)
		}
	}
}
