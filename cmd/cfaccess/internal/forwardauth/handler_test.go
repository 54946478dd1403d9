package forwardauth_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/forwardauth"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func TestNoToken(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	for _, q := range []string{"", "allowed_groups=admins", "allowed_service_tokens=" + serviceID} {
		a := s.ask(t, auth{query: q, host: "app.example.com"})
		wantRefusal(t, a, http.StatusUnauthorized, core.CodeMissingToken, middlewareAnswer(t, s.v, ""))
	}
	// An empty header is no token, and a present header wins over the cookie.
	a := s.ask(t, auth{header: http.Header{"Cf-Access-Jwt-Assertion": {" "}}})
	wantRefusal(t, a, http.StatusUnauthorized, core.CodeMissingToken, middlewareAnswer(t, s.v, ""))
}

func TestUser(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	tok := team.User("ann@example.com", "admins")
	t.Run("header", func(t *testing.T) {
		wantAllowed(t, s.ask(t, auth{token: tok}), "ann@example.com", "ann@example.com", "", "")
	})
	t.Run("cookie", func(t *testing.T) {
		wantAllowed(t, s.ask(t, auth{cookie: tok}), "ann@example.com", "ann@example.com", "", "")
	})
	t.Run("a bad header is not saved by a good cookie", func(t *testing.T) {
		a := s.ask(t, auth{token: "x.y.z", cookie: tok})
		wantRefusal(t, a, http.StatusUnauthorized, core.CodeInvalidToken, middlewareAnswer(t, s.v, "x.y.z"))
	})
	t.Run("any method", func(t *testing.T) {
		r, err := http.NewRequest(http.MethodPost, s.URL+forwardauth.PathAuth, strings.NewReader("a body"))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set(core.HeaderName, tok)
		resp, err := s.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get(forwardauth.HeaderEmail) != "ann@example.com" {
			t.Fatalf("POST /auth = %d, email %q", resp.StatusCode, resp.Header.Get(forwardauth.HeaderEmail))
		}
	})
	if n := team.IdentityRequests(); n != 0 {
		t.Errorf("get-identity was asked %d times; no location asked for groups", n)
	}
}

func TestServiceToken(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	a := s.ask(t, auth{token: team.ServiceToken(serviceID)})
	wantAllowed(t, a, serviceID, "", "", serviceID)
}

func TestRefusedTokens(t *testing.T) {
	team := testkit.NewTeam(t)
	other := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	for name, tok := range map[string]string{
		"another application's AUD": team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"0ther" + team.AUD[5:]}}),
		// Older than the key set, or its unknown kid could be a key published since (503).
		"another team":          other.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-10 * time.Minute)}),
		"expired":               team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)}),
		"an organization token": team.Mint(accesstest.Token{Email: "ann@example.com", Type: "org"}),
		"garbage":               "not-a-token",
	} {
		t.Run(name, func(t *testing.T) {
			a := s.ask(t, auth{token: tok, query: "allowed_emails=ann@example.com"})
			wantRefusal(t, a, http.StatusUnauthorized, core.CodeInvalidToken, middlewareAnswer(t, s.v, tok))
		})
	}
}

// TestPolicies runs every query parameter, alone and together, against every kind of caller.
func TestPolicies(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	const other = "fedcba9876543210fedcba9876543210.access"
	callers := map[string]string{
		"ann":   team.User("ann@example.com", "admins", "ops"),
		"bob":   team.User("bob@example.com", "ops"),
		"carol": team.User("carol@partner.example", "admins"),
		"svc":   team.ServiceToken(serviceID),
		"other": team.ServiceToken(other),
	}
	tests := []struct {
		query   string
		allowed []string // the rest are refused with 403
		groups  bool     // X-Auth-Request-Groups is filled in
	}{
		{"", []string{"ann", "bob", "carol", "svc", "other"}, false},
		{"allowed_groups=admins", []string{"ann", "carol"}, true},
		{"allowed_groups=admins,ops", []string{"ann", "bob", "carol"}, true},
		{"allowed_groups=admins&allowed_groups=ops", []string{"ann", "bob", "carol"}, true},
		{"allowed_emails=ann@example.com", []string{"ann"}, false},
		{"allowed_emails=ANN@Example.com,carol@partner.example", []string{"ann", "carol"}, false},
		{"allowed_email_domains=example.com", []string{"ann", "bob"}, false},
		{"allowed_email_domains=@partner.example", []string{"carol"}, false},
		{"allowed_service_tokens=" + serviceID, []string{"svc"}, false},
		{"allowed_service_tokens=" + serviceID + "," + other, []string{"svc", "other"}, false},
		// A user must pass every user parameter, as with oauth2-proxy.
		{"allowed_groups=admins&allowed_email_domains=example.com", []string{"ann"}, true},
		{"allowed_groups=ops&allowed_emails=bob@example.com", []string{"bob"}, true},
		// Service tokens are admitted beside the users.
		{"allowed_service_tokens=" + serviceID + "&allowed_groups=admins", []string{"ann", "carol", "svc"}, true},
		{"allowed_service_tokens=" + serviceID + "&allowed_email_domains=example.com", []string{"ann", "bob", "svc"}, false},
		// Parameters of other servers are ignored.
		{"rd=https%3A%2F%2Fapp.example.com%2F&allowed_emails=bob@example.com", []string{"bob"}, false},
	}
	groupsOf := map[string]string{"ann": "admins,ops", "bob": "ops", "carol": "admins"}
	for _, tt := range tests {
		for name, tok := range callers {
			t.Run(tt.query+"/"+name, func(t *testing.T) {
				a := s.ask(t, auth{query: tt.query, token: tok})
				if !contains(tt.allowed, name) {
					wantRefusal(t, a, http.StatusForbidden, core.CodeForbidden, adapter.ErrorResponse(&core.Error{Code: core.CodeForbidden, Reason: core.ReasonPolicy, Message: "access denied"}))
					return
				}
				switch name {
				case "svc":
					wantAllowed(t, a, serviceID, "", "", serviceID)
				case "other":
					wantAllowed(t, a, other, "", "", other)
				default:
					email := map[string]string{"ann": "ann@example.com", "bob": "bob@example.com", "carol": "carol@partner.example"}[name]
					groups := ""
					if tt.groups {
						groups = groupsOf[name]
					}
					wantAllowed(t, a, email, email, groups, "")
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestGroupsOnlyWhenAsked: get-identity is called only for a location that asks for groups.
func TestGroupsOnlyWhenAsked(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	tok := team.User("ann@example.com", "admins")
	for _, q := range []string{"", "allowed_emails=ann@example.com", "allowed_email_domains=example.com", "allowed_service_tokens=" + serviceID + "&allowed_emails=ann@example.com"} {
		wantAllowed(t, s.ask(t, auth{query: q, token: tok}), "ann@example.com", "ann@example.com", "", "")
	}
	if n := team.IdentityRequests(); n != 0 {
		t.Fatalf("get-identity was asked %d times with no allowed_groups", n)
	}
	// A user refused by a cheaper parameter is not looked up either.
	a := s.ask(t, auth{query: "allowed_email_domains=partner.example&allowed_groups=admins", token: tok})
	if a.status != http.StatusForbidden || team.IdentityRequests() != 0 {
		t.Fatalf("status %d after %d identity requests; want 403 after none", a.status, team.IdentityRequests())
	}
	for range 3 {
		wantAllowed(t, s.ask(t, auth{query: "allowed_groups=admins", token: tok}), "ann@example.com", "ann@example.com", "admins", "")
	}
	if n := team.IdentityRequests(); n != 1 {
		t.Fatalf("get-identity was asked %d times for one token; want once", n)
	}
	// A service token is refused by a group location without a lookup.
	svc := team.ServiceToken(serviceID)
	if a := s.ask(t, auth{query: "allowed_groups=admins", token: svc}); a.status != http.StatusForbidden || team.IdentityRequests() != 1 {
		t.Fatalf("service token: status %d after %d identity requests", a.status, team.IdentityRequests())
	}
}

// TestInvalidQuery: a location whose query is wrong refuses everyone with 500, naming the
// parameter, and the mistake is logged once.
func TestInvalidQuery(t *testing.T) {
	team := testkit.NewTeam(t)
	events := &testkit.EventLog{}
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{Observe: events.Add})
	tok := team.User("ann@example.com", "admins")
	for _, tt := range []struct{ query, param string }{
		{"allowed_groups=", "allowed_groups"},
		{"allowed_groups=admins,,ops", "allowed_groups"},
		{"allowed_groups=admins,", "allowed_groups"},
		{"allowed_groups=%20", "allowed_groups"},
		{"allowed_emails=ann", "allowed_emails"},
		{"allowed_emails=ann@example.com&allowed_emails=", "allowed_emails"},
		{"allowed_email_domains=not%20a%20domain", "allowed_email_domains"},
		{"allowed_email_domains=ann@example.com", "allowed_email_domains"},
		{"allowed_service_tokens=0123456789abcdef", "allowed_service_tokens"},
		{"allowed_service_tokens=.access", "allowed_service_tokens"},
		{"allowed_group=admins", "allowed_group"},
		{"allowed_users=ann", "allowed_users"},
		{"allowed_groups=%zz", ""},
	} {
		t.Run(tt.query, func(t *testing.T) {
			for range 2 {
				a := s.ask(t, auth{query: tt.query, token: tok})
				want := &core.Error{Code: core.CodeMisconfigured, Message: "access control is misconfigured on the server"}
				if tt.param != "" {
					want.Message += ": the " + tt.param + " parameter of the auth request is invalid"
				}
				wantRefusal(t, a, http.StatusInternalServerError, core.CodeMisconfigured, adapter.ErrorResponse(want))
				if a.header.Get("Retry-After") != "" {
					t.Errorf("a misconfiguration says Retry-After: %s", a.header.Get("Retry-After"))
				}
			}
			logged := s.log.Count("query=" + quoteLog(tt.query))
			if logged != 1 {
				t.Errorf("the mistake was logged %d times, want once:\n%s", logged, s.log)
			}
			if tt.param != "" && !strings.Contains(s.log.String(), "param="+tt.param+" ") {
				t.Errorf("the log does not name the parameter %s:\n%s", tt.param, s.log)
			}
		})
	}
	if n := events.Count(core.OutcomeDenied, core.CodeMisconfigured); n != 26 {
		t.Errorf("observed %d misconfigured decisions, want 26", n)
	}
}

// quoteLog quotes s as slog's text handler quotes a value that holds "=".
func quoteLog(s string) string { return strconv.Quote(s) }

// TestHostBinding: with host-bound applications, the host that the proxy forwards decides
// which application's tokens are accepted.
func TestHostBinding(t *testing.T) {
	team := testkit.NewTeam(t)
	const otherAUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"
	cfg := core.Config{TeamDomain: team.URL, HostAudiences: map[string][]string{
		"app.example.com":   {team.AUD},
		"other.example.com": {otherAUD},
	}, Logger: testkit.QuietLogger()}
	s := newServer(t, testkit.NewVerifier(t, cfg), forwardauth.Options{})
	app := team.User("ann@example.com")
	otherApp := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{otherAUD}})

	allowed := func(t *testing.T, a answer) {
		t.Helper()
		wantAllowed(t, a, "ann@example.com", "ann@example.com", "", "")
	}
	refused := func(t *testing.T, a answer) {
		t.Helper()
		if a.status != http.StatusUnauthorized || a.errorCode(t) != core.CodeInvalidToken {
			t.Fatalf("status %d %s, want 401 invalid_token", a.status, a.body)
		}
	}
	t.Run("the application's host", func(t *testing.T) { allowed(t, s.ask(t, auth{token: app, host: "app.example.com"})) })
	t.Run("with a port and in capitals", func(t *testing.T) { allowed(t, s.ask(t, auth{token: app, host: "App.Example.com:8443"})) })
	t.Run("another application's host", func(t *testing.T) { refused(t, s.ask(t, auth{token: app, host: "other.example.com"})) })
	t.Run("another application's token", func(t *testing.T) { refused(t, s.ask(t, auth{token: otherApp, host: "app.example.com"})) })
	t.Run("every forwarded host counts", func(t *testing.T) {
		// An application behind the proxy may route on any of them, as the middleware's
		// frameworks do: each must be the token's application's.
		allowed(t, s.ask(t, auth{token: app, host: "app.example.com, App.Example.com:443"}))
		refused(t, s.ask(t, auth{token: app, host: "app.example.com, other.example.com"}))
		refused(t, s.ask(t, auth{token: app, host: "other.example.com, app.example.com"}))
	})
	t.Run("an unbound host", func(t *testing.T) { refused(t, s.ask(t, auth{token: app, host: "unbound.example.com"})) })
	t.Run("no forwarded host: the auth request's own", func(t *testing.T) {
		// The auth request's Host is this server's address, an IP: bound to nothing.
		refused(t, s.ask(t, auth{token: app}))
		resp := testkit.Get(t, s.URL+forwardauth.PathAuth, "app.example.com", map[string]string{core.HeaderName: app})
		if resp.Status != http.StatusOK {
			t.Fatalf("Host app.example.com, no X-Forwarded-Host: status %d, want 200", resp.Status)
		}
	})
}

// TestKeysDown: while the team's keys cannot be had, every token is answered 503 with
// Retry-After, and /healthz says so; once the certs endpoint answers, the server heals.
func TestKeysDown(t *testing.T) {
	team := testkit.NewTeam(t)
	team.FailCerts(accesstest.Status500)
	cfg := testkit.Config(team, nil)
	cfg.Keys = core.KeyConfig{StartupWait: core.None, UnknownKeyCooldown: 2 * time.Second}
	s := newServer(t, testkit.NewVerifier(t, cfg), forwardauth.Options{})
	tok := team.User("ann@example.com", "admins")

	for _, q := range []string{"", "allowed_groups=admins"} {
		a := s.ask(t, auth{query: q, token: tok})
		wantRefusal(t, a, http.StatusServiceUnavailable, core.CodeUnavailable, middlewareAnswer(t, s.v, tok))
		if got := a.header.Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After = %q, want the cool-down, 2", got)
		}
	}
	h := s.askPath(t, forwardauth.PathHealthz, auth{})
	if h.status != http.StatusServiceUnavailable || !strings.Contains(string(h.body), `"status":"unavailable"`) {
		t.Fatalf("/healthz = %d %s, want 503 unavailable", h.status, h.body)
	}

	team.FailCerts(accesstest.Healthy)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := s.ask(t, auth{token: tok})
		if a.status == http.StatusOK {
			break
		}
		if a.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the keys came back: %d %s", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond) // polling for the cool-down to end, with a deadline
	}
	h = s.askPath(t, forwardauth.PathHealthz, auth{})
	if h.status != http.StatusOK || !strings.Contains(string(h.body), `"status":"ok"`) {
		t.Fatalf("/healthz = %d %s, want 200 ok", h.status, h.body)
	}
}

func TestIdentityDown(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	team.FailIdentity(accesstest.Status500)
	tok := team.User("ann@example.com", "admins")
	a := s.ask(t, auth{query: "allowed_groups=admins", token: tok})
	if a.status != http.StatusServiceUnavailable || a.errorCode(t) != core.CodeUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("status %d %s Retry-After %q, want 503 unavailable with Retry-After", a.status, a.body, a.header.Get("Retry-After"))
	}
	// A location that needs no groups does not depend on get-identity.
	wantAllowed(t, s.ask(t, auth{query: "allowed_emails=ann@example.com", token: tok}), "ann@example.com", "ann@example.com", "", "")
}

func TestLoginRedirect(t *testing.T) {
	team, v := testkit.TeamVerifier(t)
	s := newServer(t, v, forwardauth.Options{LoginRedirect: true})
	browser := http.Header{"Accept": {"text/html,application/xhtml+xml"}, "Sec-Fetch-Mode": {"navigate"}}

	want, err := v.LoginURL("app.example.com", "/admin/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	a := s.ask(t, auth{header: browser, host: "app.example.com", uri: "/admin/x?y=1"})
	if a.status != http.StatusFound || a.header.Get("Location") != want {
		t.Fatalf("browser without a token: %d Location %q, want 302 %q", a.status, a.header.Get("Location"), want)
	}
	// nginx configurations often name the URI X-Original-URI.
	a = s.ask(t, auth{header: http.Header{"Accept": {"text/html"}, "X-Original-Uri": {"/admin/x?y=1"}}, host: "app.example.com"})
	if a.status != http.StatusFound || a.header.Get("Location") != want {
		t.Fatalf("X-Original-URI: %d Location %q, want 302 %q", a.status, a.header.Get("Location"), want)
	}
	expired := team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
	if a := s.ask(t, auth{header: browser, token: expired, host: "app.example.com", uri: "/admin/x?y=1"}); a.status != http.StatusFound {
		t.Fatalf("browser with an expired token: %d, want 302", a.status)
	}
	// Not for a form's POST (the original method), nor for an API client.
	if a := s.ask(t, auth{header: browser, host: "app.example.com", method: http.MethodPost}); a.status != http.StatusUnauthorized {
		t.Fatalf("POST navigation: %d, want 401", a.status)
	}
	if a := s.ask(t, auth{host: "app.example.com"}); a.status != http.StatusUnauthorized {
		t.Fatalf("API client: %d, want 401", a.status)
	}
	// A forwarded "URI" that would send the user elsewhere after login becomes "/".
	home, _ := v.LoginURL("app.example.com", "/")
	if a := s.ask(t, auth{header: browser, host: "app.example.com", uri: "//evil.example/"}); a.header.Get("Location") != home {
		t.Fatalf("//evil.example/: Location %q, want %q", a.header.Get("Location"), home)
	}
	if u, err := url.Parse(want); err != nil || u.Query().Get("redirect_url") != "/admin/x?y=1" {
		t.Fatalf("login URL %q does not send the user back to /admin/x?y=1", want)
	}
}

// TestHeaderValuesAreSafe: an identity provider's group name cannot add a header line or
// make the proxy reject the answer.
func TestHeaderValuesAreSafe(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	tok := team.Mint(accesstest.Token{Email: "ann@example.com", Identity: map[string]any{
		"groups": []string{"adm\r\nX-Injected: 1\r\nin", "ops\x00", "a,b", "admins"},
	}})
	a := s.ask(t, auth{query: "allowed_groups=admins", token: tok})
	wantAllowed(t, a, "ann@example.com", "ann@example.com", "admX-Injected: 1in,ops,admins", "")
	if _, ok := a.header["X-Injected"]; ok {
		t.Fatal("a group name added a header")
	}
}

func TestHealthz(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	a := s.askPath(t, forwardauth.PathHealthz, auth{})
	var body struct {
		Status string `json:"status"`
		Team   string `json:"team"`
		Keys   int    `json:"keys"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil || a.status != http.StatusOK || body.Status != "ok" || body.Keys != 2 || body.Team != team.URL {
		t.Fatalf("/healthz = %d %s (%v)", a.status, a.body, err)
	}
	if a := s.askPath(t, "/elsewhere", auth{}); a.status != http.StatusNotFound {
		t.Fatalf("/elsewhere = %d, want 404", a.status)
	}
}

func TestObserver(t *testing.T) {
	team := testkit.NewTeam(t)
	events := &testkit.EventLog{}
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{Observe: events.Add})
	s.ask(t, auth{token: team.User("ann@example.com")})
	s.ask(t, auth{query: "allowed_groups=admins", token: team.User("bob@example.com")})
	s.ask(t, auth{})
	if events.Count(core.OutcomeAllowed, "") != 1 || events.Count(core.OutcomeDenied, core.CodeForbidden) != 1 || events.Count(core.OutcomeDenied, core.CodeMissingToken) != 1 {
		t.Fatalf("events: %+v", events.All())
	}
	if e := events.All()[0]; e.Subject != "ann@example.com" || e.Source != core.SourceHeader || e.TokenID == "" {
		t.Fatalf("allowed event: %+v", e)
	}
}

// TestLocationsAreRemembered: a location's policy is built once, not per request: a request
// to a location with a policy costs the allocations of one without.
func TestLocationsAreRemembered(t *testing.T) {
	team := testkit.NewTeam(t)
	h, err := forwardauth.NewHandler(testkit.Verifier(t, team), forwardauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok := team.User("ann@example.com")
	allocs := func(query string) float64 {
		r := httptest.NewRequest(http.MethodGet, "/auth?"+query, nil)
		r.Header.Set(core.HeaderName, tok)
		r.Header.Set("X-Forwarded-Host", "app.example.com")
		var status int
		n := testing.AllocsPerRun(200, func() {
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, r)
			status = w.status
		})
		if status != http.StatusOK {
			t.Fatalf("%q: status %d", query, status)
		}
		return n
	}
	none := allocs("")
	with := allocs("allowed_emails=ann@example.com,bob@example.com&allowed_email_domains=example.com&rd=%2F")
	if with > none {
		t.Fatalf("a location with a policy costs %v allocations per request, one without %v: its policy is rebuilt", with, none)
	}
}

// TestManyLocations: past MaxLocations distinct queries, requests are still decided; the
// server says once that the proxy seems to pass clients' queries on.
func TestManyLocations(t *testing.T) {
	team := testkit.NewTeam(t)
	log := &testkit.LogBuffer{}
	h, err := forwardauth.NewHandler(testkit.Verifier(t, team), forwardauth.Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tok := team.User("ann@example.com")
	for i := range forwardauth.MaxLocations + 10 {
		q := "allowed_emails=ann@example.com&n=" + strings.Repeat("x", i%7) + url.QueryEscape(time.Duration(i).String())
		if i%2 == 1 {
			q = "allowed_emails=bob@example.com&i=" + url.QueryEscape(time.Duration(i).String())
		}
		r := httptest.NewRequest(http.MethodGet, "/auth?"+q, nil)
		r.Header.Set(core.HeaderName, tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := http.StatusOK
		if i%2 == 1 {
			want = http.StatusForbidden
		}
		if w.Code != want {
			t.Fatalf("query %d (%s): %d, want %d", i, q, w.Code, want)
		}
	}
	if n := log.Count("more distinct auth queries"); n != 1 {
		t.Fatalf("the overflow was logged %d times, want once:\n%s", n, log)
	}
}

// discardWriter is a ResponseWriter that keeps the status only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// TestLongQuery: a query too long to remember is refused with 500, and logged once.
func TestLongQuery(t *testing.T) {
	team := testkit.NewTeam(t)
	s := newServer(t, testkit.Verifier(t, team), forwardauth.Options{})
	tok := team.User("ann@example.com")
	long := "allowed_emails=ann@example.com&pad=" + strings.Repeat("x", forwardauth.MaxQueryLength)
	for i := range 3 {
		a := s.ask(t, auth{query: long + strconv.Itoa(i), token: tok})
		if a.status != http.StatusInternalServerError || a.errorCode(t) != core.CodeMisconfigured {
			t.Fatalf("status %d %s, want 500 misconfigured", a.status, a.body)
		}
	}
	if n := s.log.Count("query is too long"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, s.log)
	}
	// Just under the limit is fine.
	ok := "allowed_emails=ann@example.com&pad="
	ok += strings.Repeat("x", forwardauth.MaxQueryLength-len(ok))
	wantAllowed(t, s.ask(t, auth{query: ok, token: tok}), "ann@example.com", "ann@example.com", "", "")
}
