package core_test

// Checks of the verifier against shapes that Cloudflare documents for Access, served by a
// team domain of these tests' own rather than by accesstest, so that the library is held to
// Access's behaviour and not to accesstest's idea of it:
//
//   - custom SAML attributes / OIDC claims are best-effort: past a size budget Access trims
//     them from the token per user, and "the full identity (including all groups) is always
//     available from get-identity" (cloudflare-docs PR #31700);
//   - an origin that fronts several applications sees requests whose forwarded host names
//     another application's host;
//   - Access publishes a new key before it signs with it, and a token of a key the verifier
//     has not fetched yet can carry kilobytes of custom claims before its iat.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

// shapeTeam is a minimal Access team domain: a JWKS at /cdn-cgi/access/certs and
// get-identity answers for the tokens it minted, at /cdn-cgi/access/get-identity.
type shapeTeam struct {
	url   string
	first string // the kid of the key published at the start

	mu         sync.Mutex
	keys       []shapeKey         // published, in the order served
	identities map[string]shapeID // get-identity's answer, by token

	certs, identity atomic.Int64 // requests, by endpoint
}

type shapeKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// shapeID is what get-identity answers for one token.
type shapeID struct {
	status int
	body   string
}

func newShapeTeam(t *testing.T) *shapeTeam {
	t.Helper()
	team := &shapeTeam{identities: map[string]shapeID{}}
	team.first = team.publish(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cdn-cgi/access/certs", team.serveCerts)
	mux.HandleFunc("GET /cdn-cgi/access/get-identity", team.serveIdentity)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	team.url = srv.URL
	return team
}

// publish adds a new key to the published set, first in the document (Access promises no
// order), and returns its kid.
func (team *shapeTeam) publish(t *testing.T) string {
	t.Helper()
	var kid [32]byte
	_, _ = rand.Read(kid[:])
	k := shapeKey{kid: fmt.Sprintf("%x", kid), priv: rs256.NewKey(t, 2048)}
	team.mu.Lock()
	defer team.mu.Unlock()
	team.keys = append([]shapeKey{k}, team.keys...)
	return k.kid
}

// key returns the published key kid.
func (team *shapeTeam) key(t *testing.T, kid string) shapeKey {
	t.Helper()
	team.mu.Lock()
	defer team.mu.Unlock()
	for _, k := range team.keys {
		if k.kid == kid {
			return k
		}
	}
	t.Fatalf("no key %q", kid)
	return shapeKey{}
}

func (team *shapeTeam) serveCerts(w http.ResponseWriter, _ *http.Request) {
	team.certs.Add(1)
	team.mu.Lock()
	var keys []map[string]any
	for _, k := range team.keys {
		keys = append(keys, rs256.JWK(k.kid, &k.priv.PublicKey))
	}
	team.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

func (team *shapeTeam) serveIdentity(w http.ResponseWriter, r *http.Request) {
	team.identity.Add(1)
	token := ""
	if c, err := r.Cookie(core.CookieName); err == nil {
		token = c.Value
	}
	team.mu.Lock()
	id, ok := team.identities[token]
	team.mu.Unlock()
	if !ok {
		id = shapeID{http.StatusUnauthorized, `{"err":"unknown token"}`}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(id.status)
	_, _ = io.WriteString(w, id.body)
}

// answer makes get-identity answer token with status and body.
func (team *shapeTeam) answer(token string, status int, body string) {
	team.mu.Lock()
	defer team.mu.Unlock()
	team.identities[token] = shapeID{status, body}
}

// shapeClaim is one claim of a payload, in the order it is written.
type shapeClaim struct {
	name  string
	value any
}

// mint signs the claims, in their order, with the key kid (under the kid named, which may
// differ: a key nobody publishes signs under the kid it claims).
func (team *shapeTeam) mint(t *testing.T, signer shapeKey, kid string, claims ...shapeClaim) string {
	t.Helper()
	var payload strings.Builder
	payload.WriteByte('{')
	for i, c := range claims {
		name, err1 := json.Marshal(c.name)
		value, err2 := json.Marshal(c.value)
		if err1 != nil || err2 != nil {
			t.Fatalf("claim %s: %v %v", c.name, err1, err2)
		}
		if i > 0 {
			payload.WriteByte(',')
		}
		payload.Write(name)
		payload.WriteByte(':')
		payload.Write(value)
	}
	payload.WriteByte('}')
	header := rs256.Segment(t, map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	return rs256.Sign(t, signer.priv, header, base64.RawURLEncoding.EncodeToString([]byte(payload.String())))
}

// userClaims are a user token's claims as Access issues them, for aud, issued at iat, with
// extra claims first (in the order given).
func (team *shapeTeam) userClaims(email, aud string, iat time.Time, first ...shapeClaim) []shapeClaim {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	return append(first,
		shapeClaim{"aud", []string{aud}},
		shapeClaim{"email", email},
		shapeClaim{"exp", iat.Add(24 * time.Hour).Unix()},
		shapeClaim{"iat", iat.Unix()},
		shapeClaim{"nbf", iat.Unix()},
		shapeClaim{"iss", team.url},
		shapeClaim{"type", "app"},
		shapeClaim{"identity_nonce", fmt.Sprintf("%x", nonce)},
		shapeClaim{"sub", "7335d417-61da-459d-899c-0a01c76a2f94"},
		shapeClaim{"country", "US"},
	)
}

// shapeConfig is a verifier's configuration for team and aud, patient with a loaded machine.
func shapeConfig(team *shapeTeam, aud string) core.Config {
	return core.Config{
		TeamDomain: team.url,
		Audiences:  []string{aud},
		Logger:     testkit.QuietLogger(),
		Keys:       core.KeyConfig{StartupWait: time.Minute, FetchWait: time.Minute},
	}
}

// TestShapeTrimmedGroupsClaim: with groups read from the token's custom claim, a token from
// which Access trimmed the claim (it trims from the end of the configured list, per user)
// has its groups decided by get-identity, which always has them all; a claim that is
// present decides alone.
func TestShapeTrimmedGroupsClaim(t *testing.T) {
	team := newShapeTeam(t)
	kid := team.first
	const aud = "32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228"
	cfg := shapeConfig(team, aud)
	cfg.Groups = core.GroupsClaim("groups")
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A user in 300 groups, admins among them, as get-identity reports them (Google's shape).
	var all []map[string]string
	for i := range 300 {
		all = append(all, map[string]string{"id": fmt.Sprintf("0%014d", i), "name": fmt.Sprintf("group-%03d", i), "email": fmt.Sprintf("group-%03d@example.com", i)})
	}
	all = append(all, map[string]string{"id": "03rdcrjn1a2b3c4", "name": "admins", "email": "admins@example.com"})
	doc := func(groups any) string {
		b, err := json.Marshal(map[string]any{
			"id": "105943327455823487761", "name": "ann", "email": "ann@example.com", "groups": groups,
			"idp":       map[string]string{"id": "a5bc3a60-e11f-4aae-a109-c3d7404953ca", "type": "google-apps"},
			"user_uuid": "7335d417-61da-459d-899c-0a01c76a2f94", "iat": 1659474397, "version": 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	member, staff := doc(all), doc([]map[string]string{{"id": "x", "name": "staff", "email": "staff@example.com"}})
	// A SAML provider: no top-level groups; get-identity keeps the attribute whole.
	samlMember := `{"id":"ann","email":"ann@example.com","saml_attributes":{"groups":["staff","admins"]},"version":2}`
	samlStaff := `{"id":"ann","email":"ann@example.com","saml_attributes":{"groups":["staff"]},"groups":["admins"],"version":2}`

	tests := []struct {
		name     string
		custom   []shapeClaim // nil: no custom claim at all
		status   int          // get-identity's
		identity string
		allow    bool
		code     core.Code // of a refusal that is an error
		calls    int64     // to get-identity
	}{
		{"the claim present decides, without a call", []shapeClaim{{"dept", "eng"}, {"groups", []string{"admins"}}},
			http.StatusOK, staff, true, "", 0},
		{"the claim present and empty decides too", []shapeClaim{{"dept", "eng"}, {"groups", []string{}}},
			http.StatusOK, member, false, "", 0},
		{"groups trimmed from the end: get-identity has them", []shapeClaim{{"dept", "eng"}},
			http.StatusOK, member, true, "", 1},
		{"groups trimmed from the end: get-identity says not a member", []shapeClaim{{"dept", "eng"}},
			http.StatusOK, staff, false, "", 1},
		{"every attribute trimmed, the claim empty", []shapeClaim{},
			http.StatusOK, member, true, "", 1},
		{"no custom claim at all", nil,
			http.StatusOK, member, true, "", 1},
		{"trimmed, a SAML provider: get-identity's attribute has them", []shapeClaim{{"dept", "eng"}},
			http.StatusOK, samlMember, true, "", 1},
		{"trimmed, a SAML provider: its attribute decides, not a top-level list", []shapeClaim{{"dept", "eng"}},
			http.StatusOK, samlStaff, false, "", 1},
		{"trimmed, and get-identity refuses the session", []shapeClaim{{"dept", "eng"}},
			http.StatusUnauthorized, `{"err":"session revoked"}`, false, core.CodeInvalidToken, 1},
		{"trimmed, and get-identity is down: closed", []shapeClaim{{"dept", "eng"}},
			http.StatusInternalServerError, `internal error`, false, core.CodeUnavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first []shapeClaim
			if tt.custom != nil {
				custom := map[string]any{}
				for _, c := range tt.custom {
					custom[c.name] = c.value
				}
				first = []shapeClaim{{"custom", custom}}
			}
			token := team.mint(t, team.key(t, kid), kid, team.userClaims("ann@example.com", aud, time.Now(), first...)...)
			team.answer(token, tt.status, tt.identity)
			before := team.identity.Load()
			caller, err := v.Authenticate(ctx, token)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			ok, err := core.Groups("admins").Allow(ctx, caller)
			if ok != tt.allow || (tt.code == "") != (err == nil) || tt.code != "" && core.AsError(err).Code != tt.code {
				t.Errorf("Allow = %v, %v; want %v with code %q", ok, err, tt.allow, tt.code)
			}
			if n := team.identity.Load() - before; n != tt.calls {
				t.Errorf("%d calls to get-identity, want %d", n, tt.calls)
			}
			if tt.calls == 1 && tt.allow {
				// The groups are get-identity's whole list, not the token's remains.
				want := len(all)
				if tt.identity == samlMember {
					want = 2
				}
				if groups, err := caller.Groups(ctx); err != nil || len(groups) != want {
					t.Errorf("Groups = %d groups, %v; want the %d of get-identity", len(groups), err, want)
				}
			}
		})
	}
}

// TestShapeForwardedHostOfAnotherApplication: an origin that fronts two applications, one per
// host, refuses a token of one application on a request that names the other's host in a
// forwarded header, however it is spelled, since a router that picks by the forwarded host
// would hand the request to the other application.
func TestShapeForwardedHostOfAnotherApplication(t *testing.T) {
	team := newShapeTeam(t)
	kid := team.first
	const wikiAUD, adminAUD = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
	cfg := shapeConfig(team, "")
	cfg.Audiences = nil
	cfg.HostAudiences = map[string][]string{"wiki.example.com": {wikiAUD}, "admin.example.com": {adminAUD}}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g, err := adapter.NewGuard(v)
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := g.Check(r.Context(), adapter.HTTPRequest(r))
		if !d.Allowed() {
			d.Response().Write(w)
			return
		}
		_, _ = io.WriteString(w, "hello "+d.Caller.Claims.Email)
	}))
	t.Cleanup(origin.Close)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}

	token := func(auds ...string) string {
		claims := team.userClaims("ann@example.com", "", time.Now())
		claims[0] = shapeClaim{"aud", auds}
		return team.mint(t, team.key(t, kid), kid, claims...)
	}
	wiki, admin, both := token(wikiAUD), token(adminAUD), token(wikiAUD, adminAUD)

	for _, tc := range []struct {
		name    string
		host    string
		token   string
		headers [][2]string
		status  int
	}{
		{"the wiki's token on the wiki", "wiki.example.com", wiki, nil, 200},
		{"forwarded for the wiki itself", "wiki.example.com", wiki, [][2]string{{"X-Forwarded-Host", "wiki.example.com"}}, 200},
		{"X-Forwarded-Host of the console", "wiki.example.com", wiki, [][2]string{{"X-Forwarded-Host", "admin.example.com"}}, 401},
		{"X-Forwarded-Host of the console, second of a list", "wiki.example.com", wiki, [][2]string{{"X-Forwarded-Host", "wiki.example.com, admin.example.com"}}, 401},
		{"X-Forwarded-Host of the console, second header line", "wiki.example.com", wiki, [][2]string{{"X-Forwarded-Host", "wiki.example.com"}, {"X-Forwarded-Host", "admin.example.com"}}, 401},
		{"X-Forwarded-Host of the console, in capitals", "wiki.example.com", wiki, [][2]string{{"X-Forwarded-Host", "ADMIN.EXAMPLE.COM"}}, 401},
		{"Forwarded host= of the console", "wiki.example.com", wiki, [][2]string{{"Forwarded", "for=192.0.2.60;proto=https;host=admin.example.com"}}, 401},
		{"Forwarded host= of the console, quoted, second element", "wiki.example.com", wiki, [][2]string{{"Forwarded", `host=wiki.example.com, for=192.0.2.61;Host="admin.example.com"`}}, 401},
		{"the console's token, forwarded for the wiki", "admin.example.com", admin, [][2]string{{"X-Forwarded-Host", "wiki.example.com"}}, 401},
		{"a token of both applications, forwarded for the other", "wiki.example.com", both, [][2]string{{"X-Forwarded-Host", "admin.example.com"}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, origin.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			req.Header.Set(core.HeaderName, tc.token)
			for _, h := range tc.headers {
				req.Header.Add(h[0], h[1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			want := "hello ann@example.com"
			if tc.status != 200 {
				want = `"error":"invalid_token"`
			}
			if !strings.Contains(string(body), want) {
				t.Errorf("body %s, want %s", body, want)
			}
		})
	}
}

// TestShapeNewKeyLargeCustomInCooldown: Access publishes keys it has not signed with yet, and
// a verifier that fetched its key set before learns of one when a token names it. Inside the
// unknown-kid cool-down (used up, say, by an invented kid), such a token gets a 503 to retry,
// not a 401 that would send the user to log in, as long as its iat is recent, wherever the
// iat sits in the payload: here after 5 KB of custom claims. An old iat is a 401.
func TestShapeNewKeyLargeCustomInCooldown(t *testing.T) {
	team := newShapeTeam(t)
	oldKID := team.first
	const aud = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"
	clk := testkit.NewClock()
	cfg := shapeConfig(team, aud)
	cfg.Now = clk.Now
	// An hour of the test's clock: the fetch a 503 schedules for the end of the cool-down
	// runs on real time, and must not come while the cool-down is being checked.
	cfg.Keys.UnknownKeyCooldown = time.Hour
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustVerify(t, v, team.mint(t, team.key(t, oldKID), oldKID, team.userClaims("ann@example.com", aud, clk.Now())...), "a token of the known key")
	// An invented kid: one fetch, and the cool-down begins.
	_, err = v.Verify(ctx, team.mint(t, team.key(t, oldKID), "invented", team.userClaims("eve@example.com", aud, clk.Now().Add(-time.Hour))...))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)

	newKID := team.publish(t)
	newKey := team.key(t, newKID)
	fetched := team.certs.Load()
	clk.Advance(time.Second)
	// 5 KB of custom claims: attributes of a user in many groups.
	custom := map[string]any{"department": "Platform Engineering"}
	var groups []string
	for i := range 200 {
		groups = append(groups, fmt.Sprintf("5e1f%04x-4d1c-4a8e-9b2f", i))
	}
	custom["groups"] = groups
	if b, _ := json.Marshal(custom); len(b) < 5000 {
		t.Fatalf("custom claim of %d bytes, want 5 KB", len(b))
	}
	customFirst := []shapeClaim{{"custom", custom}}

	for _, tc := range []struct {
		name   string
		claims []shapeClaim
		code   core.Code
		reason core.Reason
	}{
		{"recent iat after 5 KB of custom claims", team.userClaims("ann@example.com", aud, clk.Now(), customFirst...),
			core.CodeUnavailable, core.ReasonUnknownKeyPending},
		{"recent iat before the custom claims", append(team.userClaims("ann@example.com", aud, clk.Now()), customFirst...),
			core.CodeUnavailable, core.ReasonUnknownKeyPending},
		{"an hour-old iat after 5 KB of custom claims", team.userClaims("ann@example.com", aud, clk.Now().Add(-time.Hour), customFirst...),
			core.CodeInvalidToken, core.ReasonUnknownKey},
		{"no iat after 5 KB of custom claims", without(team.userClaims("ann@example.com", aud, clk.Now(), customFirst...), "iat"),
			core.CodeInvalidToken, core.ReasonUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctx, team.mint(t, newKey, newKID, tc.claims...))
			testkit.WantCode(t, err, tc.code, tc.reason)
			e := core.AsError(err)
			if tc.code == core.CodeUnavailable && (e.Status() != http.StatusServiceUnavailable || e.RetryAfter != cfg.Keys.UnknownKeyCooldown) {
				t.Errorf("status %d, Retry-After %v; want 503 after the cool-down %v", e.Status(), e.RetryAfter, cfg.Keys.UnknownKeyCooldown)
			}
		})
	}
	if n := team.certs.Load(); n != fetched {
		t.Errorf("the key set was fetched %d more times inside the cool-down", n-fetched)
	}

	// Past the cool-down, the same token fetches the set and verifies.
	clk.Advance(cfg.Keys.UnknownKeyCooldown)
	claims, err := v.Verify(ctx, team.mint(t, newKey, newKID, team.userClaims("ann@example.com", aud, clk.Now().Add(-cfg.Keys.UnknownKeyCooldown), customFirst...)...))
	if err != nil {
		t.Fatalf("after the cool-down: %v", err)
	}
	if len(claims.Custom) < 5000 {
		t.Errorf("custom claim of %d bytes, want the 5 KB", len(claims.Custom))
	}
}

// without returns claims less the one named.
func without(claims []shapeClaim, name string) []shapeClaim {
	var out []shapeClaim
	for _, c := range claims {
		if c.name != name {
			out = append(out, c)
		}
	}
	return out
}
