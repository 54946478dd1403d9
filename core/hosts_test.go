package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// The two applications of one origin: a wiki every employee may use, and an admin console.
const (
	wikiAUD   = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
	adminAUD  = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
	tenantAUD = "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c"
)

// twoApps is srv's configuration for an origin that serves the wiki and the admin console,
// and per-tenant hosts under a wildcard.
func twoApps(srv *accesstest.Server, clk *testkit.Clock) core.Config {
	cfg := testkit.Config(srv, clk)
	cfg.Audiences = nil
	cfg.HostAudiences = map[string][]string{
		"wiki.example.com":     {wikiAUD},
		"admin.example.com":    {adminAUD},
		"*.tenant.example.com": {tenantAUD},
	}
	return cfg
}

func tokenFor(srv *accesstest.Server, aud string) string {
	return srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{aud}})
}

func TestHostAudiencesConfig(t *testing.T) {
	srv := testkit.NewTeam(t)
	for _, tc := range []struct {
		name    string
		hosts   map[string][]string
		global  []string
		unbound bool
		want    string // in the error; "" for a valid configuration
	}{
		{"one host", map[string][]string{"a.example.com": {"x"}}, nil, false, ""},
		{"upper case and a trailing dot", map[string][]string{"A.Example.COM.": {"x"}}, nil, false, ""},
		{"wildcard", map[string][]string{"*.example.com": {"x"}}, nil, false, ""},
		{"one AUD on two hosts (one application, two host names)", map[string][]string{"a.example.com": {"x"}, "b.example.com": {"x"}}, nil, false, ""},
		{"two AUDs on one host (applications split by path)", map[string][]string{"a.example.com": {"x", "y"}}, nil, false, ""},
		{"fallback to Audiences", map[string][]string{"a.example.com": {"x"}}, []string{"g"}, true, ""},
		{"nothing at all", map[string][]string{}, nil, false, "no audience"},
		{"empty AUD list", map[string][]string{"a.example.com": {}}, nil, false, "no audience"},
		{"blank AUD", map[string][]string{"a.example.com": {" "}}, nil, false, "is empty"},
		{"AUD with inner white space", map[string][]string{"a.example.com": {"x y"}}, nil, false, "white space"},
		{"port", map[string][]string{"a.example.com:8443": {"x"}}, nil, false, "no port"},
		{"scheme", map[string][]string{"https://a.example.com": {"x"}}, nil, false, "no scheme"},
		{"path", map[string][]string{"a.example.com/admin": {"x"}}, nil, false, "no scheme, path"},
		{"IPv4 address", map[string][]string{"192.0.2.1": {"x"}}, nil, false, "IP address"},
		{"IPv6 address", map[string][]string{"[2001:db8::1]": {"x"}}, nil, false, "IPv6"},
		{"bare IPv6 address", map[string][]string{"2001:db8::1": {"x"}}, nil, false, "port"},
		{"empty host", map[string][]string{"": {"x"}}, nil, false, "not a host name"},
		{"white space", map[string][]string{" a.example.com": {"x"}}, nil, false, "not a host name"},
		{"underscore", map[string][]string{"a_b.example.com": {"x"}}, nil, false, "not a host name"},
		{"wildcard inside", map[string][]string{"a.*.example.com": {"x"}}, nil, false, "wildcard"},
		{"wildcard without a dot", map[string][]string{"*example.com": {"x"}}, nil, false, "wildcard"},
		{"Kelvin sign, which lower-cases to k", map[string][]string{"\u212a.example.com": {"x"}}, nil, false, "ASCII"},
		{"listed twice", map[string][]string{"a.example.com": {"x"}, "A.example.com.": {"y"}}, nil, false, "twice"},
		{"fallback without Audiences", map[string][]string{"a.example.com": {"x"}}, nil, true, "Audiences is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testkit.Config(srv, nil)
			cfg.Audiences, cfg.HostAudiences, cfg.UnboundHostsUseAudiences = tc.global, tc.hosts, tc.unbound
			cfg.Keys.StartupWait = core.None
			_, err := core.NewVerifier(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("NewVerifier: %v", err)
			case tc.want != "" && (!errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("NewVerifier error = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHostAudiencesAudiences(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := twoApps(srv, nil)
	cfg.Audiences = []string{"global"}
	v := testkit.NewVerifier(t, cfg)
	// Verify, which knows no host, accepts a token of any application of the origin.
	want := []string{"global", tenantAUD, adminAUD, wikiAUD} // global first, then by host name
	if got := v.Audiences(); !slices.Equal(got, want) {
		t.Errorf("Audiences() = %q, want %q", got, want)
	}
	for _, aud := range want {
		if _, err := v.Verify(context.Background(), tokenFor(srv, aud)); err != nil {
			t.Errorf("Verify(token for %s): %v", aud, err)
		}
	}
	_, err := v.Verify(context.Background(), tokenFor(srv, "another-team-app"))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonAudience)
}

// TestHostMatching runs each Host header a request may carry against the bindings, through
// Authenticate, cold and with the token cached.
func TestHostMatching(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := twoApps(srv, nil)
	cfg.Tokens.CacheSize = core.None
	uncached := testkit.NewVerifier(t, cfg)
	strict := testkit.NewVerifier(t, twoApps(srv, nil))
	cfg = twoApps(srv, nil)
	cfg.Audiences = []string{wikiAUD}
	cfg.UnboundHostsUseAudiences = true
	lenient := testkit.NewVerifier(t, cfg)
	wiki, admin, tenant := tokenFor(srv, wikiAUD), tokenFor(srv, adminAUD), tokenFor(srv, tenantAUD)

	for _, tc := range []struct {
		host   string
		token  string
		strict core.Reason // "" allowed
		// lenient is the answer with Audiences {wiki} for unbound hosts.
		lenient core.Reason
	}{
		{"admin.example.com", admin, "", ""},
		{"admin.example.com", wiki, core.ReasonHostAudience, core.ReasonHostAudience},
		{"wiki.example.com", wiki, "", ""},
		{"wiki.example.com", admin, core.ReasonHostAudience, core.ReasonHostAudience},
		{"ADMIN.Example.com", admin, "", ""},
		{"ADMIN.Example.com", wiki, core.ReasonHostAudience, core.ReasonHostAudience},
		{"admin.example.com.", admin, "", ""},
		{"admin.example.com:8443", admin, "", ""},
		{"admin.example.com.:443", wiki, core.ReasonHostAudience, core.ReasonHostAudience},
		{"acme.tenant.example.com", tenant, "", ""},
		{"acme.tenant.example.com", admin, core.ReasonHostAudience, core.ReasonHostAudience},
		{"Acme.Tenant.Example.Com:443", tenant, "", ""},
		{"tenant.example.com", tenant, core.ReasonUnboundHost, core.ReasonHostAudience},     // the wildcard covers one label more
		{"a.b.tenant.example.com", tenant, core.ReasonUnboundHost, core.ReasonHostAudience}, // … and no more
		{"example.com", wiki, core.ReasonUnboundHost, ""},
		{"other.example.org", wiki, core.ReasonUnboundHost, ""},
		{"other.example.org", admin, core.ReasonUnboundHost, core.ReasonHostAudience},
		{"203.0.113.9", wiki, core.ReasonUnboundHost, ""}, // the origin reached by its address
		{"203.0.113.9:80", admin, core.ReasonUnboundHost, core.ReasonHostAudience},
		{"[2001:db8::1]:443", wiki, core.ReasonUnboundHost, ""},
		{"[2001:db8::1]", admin, core.ReasonUnboundHost, core.ReasonHostAudience},
		{"localhost", wiki, core.ReasonUnboundHost, ""},
		// Not host names: refused whatever the fallback says.
		{"", wiki, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"admin.example.com:", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"admin.example.com:http", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"admin.example.com:99999", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"admin.example.com..", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"admin example.com", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"admin.example.com/x", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"user@admin.example.com", admin, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"\u212a.example.com", wiki, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"[2001:db8::1", wiki, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"[example.com]", wiki, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{"2001:db8::1", wiki, core.ReasonUnboundHost, core.ReasonUnboundHost},
		{strings.Repeat("a.", 140) + "com", wiki, core.ReasonUnboundHost, core.ReasonUnboundHost},
	} {
		for _, mode := range []struct {
			name   string
			v      *core.Verifier
			want   core.Reason
			rounds []string
		}{
			{"strict", strict, tc.strict, []string{"cold", "cached"}},
			{"uncached", uncached, tc.strict, []string{"first", "second"}},
			{"lenient", lenient, tc.lenient, []string{"cold", "cached"}},
		} {
			aud := map[string]string{wiki: "wiki", admin: "admin", tenant: "tenant"}[tc.token]
			t.Run(mode.name+"/"+aud+"@"+tc.host, func(t *testing.T) {
				for _, round := range mode.rounds {
					c, err := mode.v.Authenticate(context.Background(), tc.token, tc.host)
					if mode.want == "" {
						if err != nil || c == nil || c.Claims.Email != "ann@example.com" {
							t.Fatalf("%s: Authenticate = %v, %v; want the caller", round, c, err)
						}
						continue
					}
					testkit.WantCode(t, err, core.CodeInvalidToken, mode.want)
					if c != nil || core.AsError(err).Status() != http.StatusUnauthorized {
						t.Fatalf("%s: Authenticate = %v, %v; want a 401 with no caller", round, c, err)
					}
				}
			})
		}
	}
}

// TestHostsOfARequest: with HostAudiences, a request that names no host is refused, and one
// that names several (a Host header and the hosts a proxy forwarded) must be bound to the
// token's application in every one of them. Without HostAudiences, hosts are not read.
func TestHostsOfARequest(t *testing.T) {
	srv := testkit.NewTeam(t)
	v := testkit.NewVerifier(t, twoApps(srv, nil))
	ctx := context.Background()
	admin := tokenFor(srv, adminAUD)
	for _, tc := range []struct {
		name  string
		hosts []string
		want  core.Reason // "" allowed
	}{
		{"no host", nil, core.ReasonUnboundHost},
		{"one bound host", []string{"admin.example.com"}, ""},
		{"the same host twice, spelt differently", []string{"admin.example.com", "ADMIN.example.com:443"}, ""},
		{"a bound host and another application's", []string{"admin.example.com", "wiki.example.com"}, core.ReasonHostAudience},
		{"another application's host first", []string{"wiki.example.com", "admin.example.com"}, core.ReasonHostAudience},
		{"a bound host and an unbound one", []string{"admin.example.com", "intranet.example.com"}, core.ReasonUnboundHost},
		{"a bound host and no host name", []string{"admin.example.com", "a b"}, core.ReasonUnboundHost},
	} {
		for _, round := range []string{"cold", "cached"} {
			c, err := v.Authenticate(ctx, admin, tc.hosts...)
			if tc.want == "" {
				if err != nil || c == nil {
					t.Errorf("%s, %s: %v", tc.name, round, err)
				}
				continue
			}
			if c != nil {
				t.Errorf("%s, %s: a caller along with the refusal", tc.name, round)
			}
			testkit.WantCode(t, err, core.CodeInvalidToken, tc.want)
		}
	}

	single := testkit.Verifier(t, srv)
	tok := srv.User("ann@example.com")
	for _, hosts := range [][]string{nil, {"anything.example.org"}, {"not a host"}} {
		if _, err := single.Authenticate(ctx, tok, hosts...); err != nil {
			t.Errorf("without HostAudiences, hosts %q: %v", hosts, err)
		}
	}
	// Verify knows no host: it accepts a token of any application of the origin.
	if _, err := v.Verify(ctx, admin); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestHostAudiencesThroughServer is the case HostAudiences exists for, over real HTTP: the
// origin serves the wiki and the admin console, and is reached directly, bypassing Access,
// with a wiki token and the admin console's Host.
func TestHostAudiencesThroughServer(t *testing.T) {
	srv := testkit.NewTeam(t)
	v := testkit.NewVerifier(t, twoApps(srv, nil))
	origin := httptest.NewServer(guarded(v, nil, http.HandlerFunc(echoCaller)))
	t.Cleanup(origin.Close)
	wiki, admin := tokenFor(srv, wikiAUD), tokenFor(srv, adminAUD)

	for _, tc := range []struct {
		name   string
		host   string
		token  string
		status int
		code   string
	}{
		{"wiki token on the wiki", "wiki.example.com", wiki, 200, ""},
		{"admin token on the console", "admin.example.com", admin, 200, ""},
		{"wiki token on the console", "admin.example.com", wiki, 401, "invalid_token"},
		{"wiki token on the console, again (cached)", "admin.example.com", wiki, 401, "invalid_token"},
		{"wiki token on the console's address", origin.Listener.Addr().String(), wiki, 401, "invalid_token"},
		{"admin token on an unknown host", "intranet.example.com", admin, 401, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := testkit.Get(t, origin.URL, tc.host, map[string]string{core.HeaderName: tc.token})
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			if tc.code != "" && !strings.Contains(resp.Body, `"error":"`+tc.code+`"`) {
				t.Errorf("body %s, want %s", resp.Body, tc.code)
			}
			if tc.code == "" && !strings.Contains(resp.Body, "ann@example.com") {
				t.Errorf("body %s, want the caller", resp.Body)
			}
		})
	}

	// A browser sent to log in goes to the login page of the application of the host it asked
	// for, with that application's AUD as kid.
	for host, aud := range map[string]string{"wiki.example.com": wikiAUD, "admin.example.com": adminAUD, "acme.tenant.example.com": tenantAUD} {
		resp := testkit.Get(t, origin.URL+"/page?x=1", host, map[string]string{"Sec-Fetch-Mode": "navigate"})
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.Status != http.StatusFound || err != nil {
			t.Fatalf("%s: status %d, Location %q", host, resp.Status, resp.Header.Get("Location"))
		}
		if loc.Path != "/cdn-cgi/access/login/"+host || loc.Query().Get("kid") != aud || loc.Query().Get("redirect_url") != "/page?x=1" {
			t.Errorf("%s: Location %s, want the login of %s with kid %s", host, loc, host, aud)
		}
	}
	// No application serves an unbound host: no login page to send the browser to.
	resp := testkit.Get(t, origin.URL, "intranet.example.com", map[string]string{"Sec-Fetch-Mode": "navigate"})
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("navigation to an unbound host: status %d, want 401", resp.Status)
	}
}

func TestLoginURLPerHost(t *testing.T) {
	srv := testkit.NewTeam(t)
	strict := testkit.NewVerifier(t, twoApps(srv, nil))
	cfg := twoApps(srv, nil)
	cfg.Audiences = []string{"global-1", "global-2"}
	cfg.UnboundHostsUseAudiences = true
	lenient := testkit.NewVerifier(t, cfg)
	for _, tc := range []struct {
		v       *core.Verifier
		host    string
		wantKid string // "" for an error
	}{
		{strict, "wiki.example.com", wikiAUD},
		{strict, "Admin.Example.com:8443", adminAUD},
		{strict, "x.tenant.example.com", tenantAUD},
		{strict, "intranet.example.com", ""},
		{strict, "203.0.113.9", ""},
		{lenient, "admin.example.com", adminAUD},
		{lenient, "intranet.example.com", "global-1"},
		{lenient, "bad host", ""},
	} {
		u, err := tc.v.LoginURL(tc.host, "/")
		if tc.wantKid == "" {
			if err == nil {
				t.Errorf("LoginURL(%q) = %q, want an error", tc.host, u)
			}
			continue
		}
		parsed, perr := url.Parse(u)
		if err != nil || perr != nil || parsed.Query().Get("kid") != tc.wantKid {
			t.Errorf("LoginURL(%q) = %q, %v; want kid %s", tc.host, u, err, tc.wantKid)
		}
	}
}

// TestHostCheckOnCachedToken: the cache is keyed by token, so a token verified on its own
// host must not be let in on another from the cache; and a refusal on another host leaves
// the token cached for its own.
func TestHostCheckOnCachedToken(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	v := testkit.NewVerifier(t, twoApps(srv, clk))
	ctx := context.Background()
	wiki := tokenFor(srv, wikiAUD)
	if _, err := v.Authenticate(ctx, wiki, "wiki.example.com"); err != nil {
		t.Fatalf("wiki: %v", err)
	}
	for range 3 {
		_, err := v.Authenticate(ctx, wiki, "admin.example.com")
		testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonHostAudience)
	}
	if st := v.Stats(); st.TokenCache.Hits != 3 || st.TokenCache.Misses != 1 {
		t.Errorf("token cache %+v: want the refusals on the admin host to come from the cache", st.TokenCache)
	}
	clk.Advance(time.Minute)
	if _, err := v.Authenticate(ctx, wiki, "wiki.example.com"); err != nil {
		t.Fatalf("wiki after a refusal elsewhere: %v", err)
	}
	if st := v.Stats(); st.TokenCache.Hits != 4 || st.CachedTokens != 1 {
		t.Errorf("stats %d cached, %+v: want the token still cached after its refusals", st.CachedTokens, st.TokenCache)
	}
}
