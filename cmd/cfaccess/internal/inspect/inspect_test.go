package inspect_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/inspect"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

var (
	sharedOnce sync.Once
	shared     *accesstest.Server
)

// team returns a fake team domain shared by the tests that do not change it: making its
// keys costs a fraction of a second.
func team(t *testing.T) *accesstest.Server {
	t.Helper()
	sharedOnce.Do(func() { shared = accesstest.NewServer() })
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

type run struct {
	code           int
	stdout, stderr string
}

// cfaccessInspect runs the subcommand with args, stdin and environment env.
func cfaccessInspect(t *testing.T, stdin string, env map[string]string, args ...string) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := inspect.Run(context.Background(), cli.Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
	}, args)
	return run{code, stdout.String(), stderr.String()}
}

func (r run) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

func (r run) wantOut(t *testing.T, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestVerifiesAValidToken(t *testing.T) {
	srv := team(t)
	tok := srv.User("ann@example.com", "admins")
	r := cfaccessInspect(t, "", nil, "-team", srv.URL, "-aud", srv.AUD, tok)
	r.wantCode(t, cli.ExitOK)
	r.wantOut(t, "VERIFIED", "a user token for ann@example.com", "expires in 23h59m", "Claims (verified)", core.TokenID(tok))
	if strings.Contains(r.stdout, tok) || strings.Contains(r.stdout, tok[strings.LastIndex(tok, ".")+1:]) {
		t.Errorf("the output holds the token or its signature:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// TestRefuses: a token of another application, or an expired one, is refused, saying why.
func TestRefuses(t *testing.T) {
	srv := team(t)
	iat := time.Now().Add(-3 * time.Hour)
	for _, tc := range []struct {
		token accesstest.Token
		want  []string
	}{
		{accesstest.Token{Email: "ann@example.com", Audience: []string{"another-app"}},
			[]string{"REFUSED (audience)", "the token is for another-app", "← audience"}},
		{accesstest.Token{Email: "ann@example.com", IssuedAt: iat, ExpiresAt: iat.Add(time.Hour)},
			[]string{"REFUSED (expired)", "expired 2h", "← expired"}},
	} {
		r := cfaccessInspect(t, "", nil, "-team", srv.URL, "-aud", srv.AUD, srv.Mint(tc.token))
		r.wantCode(t, cli.ExitRefused)
		r.wantOut(t, tc.want...)
	}
}

// Every check is made on its own: a token with several problems lists them all, and the
// one named is the verifier's.
func TestListsEveryFailure(t *testing.T) {
	srv := team(t)
	iat := time.Now().Add(-3 * time.Hour)
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"another-app"}, IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), Type: "org"})
	r := cfaccessInspect(t, "", nil, "-team", srv.URL, "-aud", srv.AUD, "-json", tok)
	r.wantCode(t, cli.ExitRefused)
	rep := decodeReport(t, r.stdout)
	failed := map[string]core.Reason{}
	for _, c := range rep.Checks {
		if c.Status == inspect.Fail {
			failed[c.Name] = c.Reason
		}
	}
	want := map[string]core.Reason{"aud": core.ReasonAudience, "exp": core.ReasonExpired, "type": core.ReasonTokenType}
	if len(failed) != len(want) {
		t.Fatalf("failed checks %v, want %v", failed, want)
	}
	for k, v := range want {
		if failed[k] != v {
			t.Errorf("check %s failed with %q, want %q", k, failed[k], v)
		}
	}
	if rep.Reason != core.ReasonAudience || rep.Failed != "aud" {
		t.Errorf("reason %q, failed check %q; want audience, aud", rep.Reason, rep.Failed)
	}
}

// One case per rule: the check that fails, its reason, and the verifier agreeing.
func TestEveryCheck(t *testing.T) {
	srv := team(t)
	now := time.Now()
	past := now.Add(-2 * time.Hour)
	kid := srv.CurrentKeyID()
	header := func(h string) []byte { return []byte(h) }
	validPayload := func() []byte {
		b, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": []string{srv.AUD}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "sub": "x", "email": "ann@example.com", "type": "app"})
		return b
	}
	tampered := func() string {
		tok := srv.User("ann@example.com")
		parts := strings.Split(tok, ".")
		other := strings.Split(srv.User("eve@example.com", "admins"), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}
	otherTeam := func() string { // signed by a key that the team never published
		other := accesstest.NewServer()
		defer other.Close()
		return other.Mint(accesstest.Token{Email: "ann@example.com", Issuer: srv.URL, Audience: []string{srv.AUD}})
	}
	for _, tc := range []struct {
		name   string
		tok    func() string
		check  string // the check named; "" for a token that verifies
		reason core.Reason
	}{
		{"valid user", func() string { return srv.User("ann@example.com") }, "", ""},
		{"valid service token", func() string { return srv.ServiceToken("") }, "", ""},
		{"valid, one-time PIN", func() string { return srv.UserFrom(accesstest.OneTimePIN, "ann@example.com") }, "", ""},
		{"expired within the leeway", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-10 * time.Second)})
		}, "", ""},
		{"previous key", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", KeyID: srv.KeyIDs()[1]}) }, "", ""},
		{"garbage", func() string { return "hello" }, "format", core.ReasonMalformed},
		{"too large", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", Claims: map[string]any{"pad": strings.Repeat("x", 17<<10)}})
		}, "format", core.ReasonTooLarge},
		{"algorithm", func() string {
			return srv.SignRaw(header(`{"alg":"HS256","kid":"`+kid+`"}`), validPayload())
		}, "format", core.ReasonAlgorithm},
		{"no kid", func() string { return srv.SignRaw(header(`{"alg":"RS256"}`), validPayload()) }, "format", core.ReasonNoKeyID},
		{"critical header", func() string {
			return srv.SignRaw(header(`{"alg":"RS256","kid":"`+kid+`","crit":["exp"]}`), validPayload())
		}, "format", core.ReasonCritical},
		{"unknown kid", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", KeyID: "no-such-key"}) }, "kid", core.ReasonUnknownKey},
		{"another team's key", otherTeam, "kid", core.ReasonUnknownKey},
		{"signature", tampered, "signature", core.ReasonSignature},
		{"claim of the wrong type", func() string {
			return srv.SignRaw(header(`{"alg":"RS256","kid":"`+kid+`"}`), []byte(`{"iss":"`+srv.URL+`","aud":"`+srv.AUD+`","exp":"tomorrow"}`))
		}, "payload", core.ReasonMalformed},
		{"payload not an object", func() string {
			return srv.SignRaw(header(`{"alg":"RS256","kid":"`+kid+`"}`), []byte(`[1,2]`))
		}, "payload", core.ReasonMalformed},
		{"no iss", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", Omit: []string{"iss"}}) }, "iss", core.ReasonMissingClaim},
		{"other issuer", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", Issuer: "https://other.cloudflareaccess.com"})
		}, "iss", core.ReasonIssuer},
		{"no aud", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", Omit: []string{"aud"}}) }, "aud", core.ReasonMissingClaim},
		{"aud a string", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", Claims: map[string]any{"aud": srv.AUD}})
		}, "", ""},
		{"other audience", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", Audience: []string{"x", "y"}}) }, "aud", core.ReasonAudience},
		{"no exp", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", Omit: []string{"exp"}}) }, "exp", core.ReasonMissingClaim},
		{"expired", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", IssuedAt: past, ExpiresAt: past.Add(time.Hour)})
		}, "exp", core.ReasonExpired},
		{"not yet valid", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", NotBefore: now.Add(10 * time.Minute)})
		}, "nbf", core.ReasonNotYetValid},
		{"issued in the future", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", IssuedAt: now.Add(10 * time.Minute), Omit: []string{"nbf"}})
		}, "iat", core.ReasonIssuedInFuture},
		{"organization token", func() string { return srv.Mint(accesstest.Token{Email: "a@example.com", Type: "org"}) }, "type", core.ReasonTokenType},
		// Several at once: the verifier's order decides which is named.
		{"missing claim before issuer", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", Issuer: "https://other.cloudflareaccess.com", Omit: []string{"exp"}})
		}, "exp", core.ReasonMissingClaim},
		{"signature before claims", func() string {
			parts := strings.Split(tampered(), ".")
			expired := strings.Split(srv.Mint(accesstest.Token{Email: "a@example.com", IssuedAt: past, ExpiresAt: past.Add(time.Hour)}), ".")
			return parts[0] + "." + expired[1] + "." + parts[2]
		}, "signature", core.ReasonSignature},
		{"type after every claim", func() string {
			return srv.Mint(accesstest.Token{Email: "a@example.com", Type: "org", NotBefore: now.Add(time.Hour)})
		}, "nbf", core.ReasonNotYetValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok()
			r := inspect.Inspect(context.Background(), tok, srv.URL, []string{srv.AUD}, time.Now())
			if r.Disagreement != "" {
				t.Fatalf("disagreement: %s\n%+v", r.Disagreement, r.Checks)
			}
			if tc.check == "" {
				if r.Verdict != inspect.Verified {
					t.Fatalf("verdict %s (%s: %s), want verified\n%+v", r.Verdict, r.Reason, r.Message, r.Checks)
				}
				for _, c := range r.Checks {
					if c.Status != inspect.Pass {
						t.Errorf("check %s: %s (%s)", c.Name, c.Status, c.Detail)
					}
				}
				return
			}
			if r.Verdict != inspect.Refused || r.Reason != tc.reason || r.Failed != tc.check {
				t.Fatalf("verdict %s, reason %q, failed check %q; want refused, %q, %q\n%+v", r.Verdict, r.Reason, r.Failed, tc.reason, tc.check, r.Checks)
			}
			if r.ExitStatus() != cli.ExitRefused {
				t.Errorf("exit status %d", r.ExitStatus())
			}
		})
	}
}

// Evaluate on its own: what needs a key set says so without one, and a kid listed twice
// with different keys is no key.
func TestEvaluateWithoutKeys(t *testing.T) {
	srv := team(t)
	tok := srv.User("ann@example.com")
	checks := inspect.Evaluate(inspect.Inputs{Token: tok, Team: srv.URL, Audiences: []string{srv.AUD}, Now: time.Now(), Leeway: core.DefaultLeeway, KeysErr: io.ErrUnexpectedEOF})
	byName := map[string]inspect.Check{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	if c := byName["kid"]; c.Status != inspect.Skip || !strings.Contains(c.Detail, "unexpected EOF") {
		t.Errorf("kid: %+v", c)
	}
	if c := byName["signature"]; c.Status != inspect.Skip {
		t.Errorf("signature: %+v", c)
	}
	if c := byName["exp"]; c.Status != inspect.Pass {
		t.Errorf("exp: %+v: the claims are checked whatever the keys", c)
	}

	ks, err := inspect.FetchKeys(context.Background(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks = inspect.Evaluate(inspect.Inputs{Token: tok, Team: srv.URL, Audiences: []string{srv.AUD}, Now: time.Now(), Leeway: core.DefaultLeeway,
		Keys: ks.Keys, Ambiguous: []string{srv.CurrentKeyID()}})
	first := inspect.First(checks)
	if first == nil || first.Name != "kid" || first.Reason != core.ReasonUnknownKey || !strings.Contains(first.Detail, "twice") {
		t.Errorf("first failure %+v, want kid listed twice", first)
	}
}

func TestTheLeewayBoundaries(t *testing.T) {
	srv := team(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	nbf := exp.Add(-time.Hour)
	tok := srv.Mint(accesstest.Token{Email: "a@example.com", IssuedAt: nbf, NotBefore: nbf, ExpiresAt: exp})
	for _, tc := range []struct {
		name   string
		at     time.Time
		reason core.Reason
	}{
		{"nbf - leeway - 1s", nbf.Add(-core.DefaultLeeway - time.Second), core.ReasonNotYetValid},
		{"nbf - leeway", nbf.Add(-core.DefaultLeeway), ""},
		{"exp + leeway - 1ns", exp.Add(core.DefaultLeeway - 1), ""},
		{"exp + leeway", exp.Add(core.DefaultLeeway), core.ReasonExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := inspect.Inspect(context.Background(), tok, srv.URL, []string{srv.AUD}, tc.at)
			if r.Disagreement != "" {
				t.Fatal(r.Disagreement)
			}
			if r.Reason != tc.reason {
				t.Errorf("reason %q, want %q", r.Reason, tc.reason)
			}
		})
	}
}

func TestWithoutAnAudience(t *testing.T) {
	srv := team(t)
	r := cfaccessInspect(t, "", nil, "-team", srv.URL, srv.User("ann@example.com"))
	r.wantCode(t, cli.ExitRefused)
	r.wantOut(t, "NOT VERIFIED", "pass -aud", "not checked: the token is for "+srv.AUD)

	// The other checks still decide: an expired token is refused for that.
	past := time.Now().Add(-3 * time.Hour)
	r = cfaccessInspect(t, "", nil, "-team", srv.URL, srv.Mint(accesstest.Token{Email: "a@example.com", IssuedAt: past, ExpiresAt: past.Add(time.Hour)}))
	r.wantCode(t, cli.ExitRefused)
	r.wantOut(t, "REFUSED (expired)")
	if strings.Contains(r.stderr, "disagree") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestDecodesWithoutATeam(t *testing.T) {
	srv := accesstest.NewServer() // an iss that is no Cloudflare team: the hint is the URL
	defer srv.Close()
	tok := srv.ServiceToken("0123456789abcdef0123456789abcdef.access")
	r := cfaccessInspect(t, "", nil, tok)
	r.wantCode(t, cli.ExitOK)
	r.wantOut(t, "a service token, client ID 0123456789abcdef0123456789abcdef.access", "Claims (not verified)",
		"Not verified: pass -team", "it says it is from "+srv.URL+": -team "+srv.URL)

	r = cfaccessInspect(t, "", nil, "not-a-token")
	r.wantCode(t, cli.ExitRefused)
	r.wantOut(t, "REFUSED (malformed)")
}

func TestTeamHint(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://myteam.cloudflareaccess.com","email":"a@example.com","exp":1}`))
	r := cfaccessInspect(t, "", nil, "eyJhbGciOiJSUzI1NiJ9."+payload+".c2ln")
	r.wantCode(t, cli.ExitOK)
	r.wantOut(t, "-team myteam", "expired ")
}

func TestReadsTheEnvironment(t *testing.T) {
	srv := team(t)
	env := map[string]string{core.EnvTeamDomain: srv.URL, core.EnvAudiences: "other-app, " + srv.AUD}
	r := cfaccessInspect(t, srv.User("ann@example.com"), env)
	r.wantCode(t, cli.ExitOK)
	r.wantOut(t, "VERIFIED", "Checks against "+srv.URL)

	// Flags win over the environment.
	r = cfaccessInspect(t, srv.User("ann@example.com"), env, "-aud", "other-app")
	r.wantCode(t, cli.ExitRefused)
}

func TestReadsStandardInput(t *testing.T) {
	srv := team(t)
	tok := srv.User("ann@example.com")
	for name, in := range map[string]string{
		"token":       tok + "\n",
		"header line": "Cf-Access-Jwt-Assertion: " + tok + "\n",
		"cookie line": "Cookie: _ga=GA1.1; CF_Authorization=" + tok + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := cfaccessInspect(t, in, nil, "-team", srv.URL, "-aud", srv.AUD)
			r.wantCode(t, cli.ExitOK)
			r = cfaccessInspect(t, in, nil, "-team", srv.URL, "-aud", srv.AUD, "-")
			r.wantCode(t, cli.ExitOK)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	srv := team(t)
	tok := srv.User("ann@example.com")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no token", "", nil, "no token given"},
		{"cookie without the token", "Cookie: a=b", nil, "no CF_Authorization cookie"},
		{"two tokens", "", []string{tok, tok}, "one token at a time"},
		{"bad team", "", []string{"-team", "http://example.com", tok}, "plain http is allowed for loopback hosts only"},
		{"aud without team", "", []string{"-aud", "x", tok}, "-aud needs -team"},
		{"bad aud", "", []string{"-team", srv.URL, "-aud", "a b", tok}, "-aud"},
		{"unknown flag", "", []string{"-verbose", tok}, "flag provided but not defined: -verbose"},
		{"huge input", strings.Repeat("x", inspect.MaxInput+1), nil, "over 1024 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cfaccessInspect(t, tc.stdin, nil, tc.args...)
			r.wantCode(t, cli.ExitUsage)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %s", r.stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r := cfaccessInspect(t, "", nil, "-h")
	r.wantCode(t, cli.ExitOK)
	r.wantOut(t, "usage: cfaccess inspect", "-team", "-aud", "-json", "example:", "cfaccess inspect -team myteam -aud ")
}

// Flags may follow the token, as people type them.
func TestFlagsAfterTheToken(t *testing.T) {
	srv := team(t)
	r := cfaccessInspect(t, "", nil, srv.User("ann@example.com"), "-team", srv.URL, "-aud", srv.AUD)
	r.wantCode(t, cli.ExitOK)
}

func TestKeysUnavailable(t *testing.T) {
	srv := testkit.NewTeam(t)
	tok := srv.User("ann@example.com")
	srv.FailCerts(accesstest.Status500)
	r := cfaccessInspect(t, "", nil, "-team", srv.URL, "-aud", srv.AUD, "-json", tok)
	r.wantCode(t, cli.ExitRefused)
	rep := decodeReport(t, r.stdout)
	if rep.Verdict != inspect.Unavailable || !strings.Contains(rep.Message, "500") {
		t.Errorf("verdict %s: %s", rep.Verdict, rep.Message)
	}
}

func TestJSON(t *testing.T) {
	srv := team(t)
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{"admins"}, Custom: map[string]any{"groups": []string{"admins"}}})
	r := cfaccessInspect(t, "", nil, "-json", "-team", srv.URL, "-aud", srv.AUD, tok)
	r.wantCode(t, cli.ExitOK)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"token_id", "kind", "header", "claims", "team", "audiences", "now", "leeway_seconds", "checks", "verdict"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, r.stdout)
		}
	}
	rep := decodeReport(t, r.stdout)
	if rep.TokenID != core.TokenID(tok) || rep.Kind != "user" || rep.Verdict != inspect.Verified || rep.Team != srv.URL {
		t.Errorf("report %+v", rep)
	}
	var hdr struct{ Alg, Kid string }
	var claims struct {
		Email  string
		Custom struct{ Groups []string }
	}
	if json.Unmarshal(rep.Header, &hdr) != nil || hdr.Alg != "RS256" || hdr.Kid != srv.CurrentKeyID() {
		t.Errorf("header %s", rep.Header)
	}
	if json.Unmarshal(rep.Claims, &claims) != nil || claims.Email != "ann@example.com" || len(claims.Custom.Groups) != 1 {
		t.Errorf("claims %s", rep.Claims)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "format kid signature payload iss aud exp nbf iat type" {
		t.Errorf("checks %s", got)
	}
	if strings.Contains(r.stdout, tok) {
		t.Error("the JSON holds the token")
	}

	// Garbage still makes one JSON object.
	r = cfaccessInspect(t, "", nil, "-json", "garbage")
	r.wantCode(t, cli.ExitRefused)
	rep = decodeReport(t, r.stdout)
	if rep.Verdict != inspect.Refused || rep.Reason != core.ReasonMalformed || rep.DecodeError == "" || string(rep.Claims) != "null" {
		t.Errorf("report %+v", rep)
	}
}

// Text from a token never reaches the terminal as control sequences.
func TestEscapesWhatATokenSays(t *testing.T) {
	srv := team(t)
	tok := srv.Mint(accesstest.Token{Email: "\x1b[2J\x1b]0;owned\x07evil@example.com", Claims: map[string]any{"note": "a\u202eb", "x\x1bname": 1}})
	r := cfaccessInspect(t, "", nil, "-team", srv.URL, "-aud", srv.AUD, tok)
	r.wantCode(t, cli.ExitOK)
	if strings.ContainsAny(r.stdout, "\x1b\x07\u202e") {
		t.Errorf("raw control characters in the output:\n%q", r.stdout)
	}
	r.wantOut(t, `\x1b[2J`, `\u202e`)
}

func decodeReport(t *testing.T, s string) inspect.Report {
	t.Helper()
	var rep inspect.Report
	if err := json.Unmarshal([]byte(s), &rep); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, s)
	}
	return rep
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second:             "45s",
		12*time.Minute + time.Second: "12m",
		3 * time.Hour:                "3h",
		3*time.Hour + 12*time.Minute: "3h12m",
		50 * time.Hour:               "2d2h",
		48 * time.Hour:               "2d",
	} {
		if got := inspect.Span(d); got != want {
			t.Errorf("Span(%s) = %s, want %s", d, got, want)
		}
	}
	now := time.Now()
	if got := inspect.Ago(now, now.Add(3*time.Hour)); got != "in 3h" {
		t.Errorf("Ago = %s", got)
	}
	if got := inspect.Ago(now, now.Add(-90*time.Second)); got != "1m ago" {
		t.Errorf("Ago = %s", got)
	}
}
