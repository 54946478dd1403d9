package accesstest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func unixClaim(t *testing.T, claims map[string]any, name string) int64 {
	t.Helper()
	v, ok := claims[name].(float64)
	if !ok {
		t.Fatalf("claim %q = %#v, want a number", name, claims[name])
	}
	if v != float64(int64(v)) {
		t.Fatalf("claim %q = %v, want whole seconds", name, v)
	}
	return int64(v)
}

// checkIssuedNow checks that p was issued between the Unix seconds before and after, give or
// take the truncation to whole seconds, and expires lifetime later; it returns iat.
func checkIssuedNow(t *testing.T, p jwtParts, before, after int64, lifetime time.Duration) int64 {
	t.Helper()
	iat, exp := unixClaim(t, p.claims, "iat"), unixClaim(t, p.claims, "exp")
	if iat < before-2 || iat > after+2 {
		t.Errorf("iat %d, want within a few seconds of %d..%d", iat, before, after)
	}
	if want := iat + int64(lifetime/time.Second); exp != want {
		t.Errorf("exp %d, want iat+%v = %d", exp, lifetime, want)
	}
	return iat
}

func TestLifetimes(t *testing.T) {
	// A user token lives as long as Access's default session; a service token's JWT less.
	if accesstest.UserTokenLifetime != 24*time.Hour || accesstest.ServiceTokenLifetime != time.Hour {
		t.Errorf("lifetimes %v and %v, want 24h and 1h", accesstest.UserTokenLifetime, accesstest.ServiceTokenLifetime)
	}
}

func TestMintedTokenHeaderAndSignature(t *testing.T) {
	tests := []struct {
		name string
		// mint returns the token, the kid its header must carry, and the kid whose key signed it.
		mint func(srv *accesstest.Server) (token, wantKID, signerKID string)
	}{
		{"user token", func(srv *accesstest.Server) (string, string, string) {
			k := srv.KeyIDs()[0]
			return srv.User("ann@example.com"), k, k
		}},
		{"service token", func(srv *accesstest.Server) (string, string, string) {
			k := srv.KeyIDs()[0]
			return srv.ServiceToken(""), k, k
		}},
		{"after rotation the new key signs", func(srv *accesstest.Server) (string, string, string) {
			k := srv.RotateKeys()
			return srv.User("ann@example.com"), k, k
		}},
		{"KeyID naming the current key", func(srv *accesstest.Server) (string, string, string) {
			k := srv.KeyIDs()[0]
			return srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: k}), k, k
		}},
		{"KeyID naming the previous key", func(srv *accesstest.Server) (string, string, string) {
			k0 := srv.KeyIDs()[0]
			srv.RotateKeys()
			return srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: k0}), k0, k0
		}},
		{"KeyID naming a removed key", func(srv *accesstest.Server) (string, string, string) {
			k0 := srv.KeyIDs()[0]
			srv.RotateKeys()
			srv.RemoveKey(k0)
			return srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: k0}), k0, k0
		}},
		{"KeyID naming a key that left the set by rotation", func(srv *accesstest.Server) (string, string, string) {
			k0 := srv.KeyIDs()[0]
			srv.RotateKeys()
			srv.RotateKeys()
			return srv.Mint(accesstest.Token{CommonName: "x.access", KeyID: k0}), k0, k0
		}},
		{"KeyID naming an unknown key", func(srv *accesstest.Server) (string, string, string) {
			srv.RotateKeys()
			k := srv.KeyIDs()[0]
			return srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: "no-such-kid"}), "no-such-kid", k
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.NewTeam(t)
			token, wantKID, signer := tt.mint(srv)
			p := parseJWT(t, token)
			wantHeader := map[string]any{"alg": "RS256", "kid": wantKID, "typ": "JWT"}
			if !maps.Equal(p.header, wantHeader) {
				t.Errorf("header %v, want %v", p.header, wantHeader)
			}
			if len(p.sig) != 256 {
				t.Errorf("signature of %d bytes, want 256 (RSA-2048)", len(p.sig))
			}
			if !p.signedBy(srv.PublicKey(signer)) {
				t.Errorf("signature does not verify with srv.PublicKey(%q)", signer)
			}
			// No other key of the server verifies it.
			for _, kid := range srv.KeyIDs() {
				if kid != signer && p.signedBy(srv.PublicKey(kid)) {
					t.Errorf("signature also verifies with %q", kid)
				}
			}
			if wantKID != signer && srv.PublicKey(wantKID) != nil {
				t.Errorf("srv.PublicKey(%q) = non-nil for a kid the server never had", wantKID)
			}
		})
	}
}

func TestUserTokenDefaults(t *testing.T) {
	srv := testkit.NewTeam(t)
	before := time.Now().Unix()
	token := srv.User("ann@example.com", "admins")
	after := time.Now().Unix()
	p := parseJWT(t, token)

	wantFields := []string{"aud", "email", "exp", "iat", "identity_nonce", "iss", "nbf", "sub", "type"}
	if got := sortedKeys(p.claims); !slices.Equal(got, wantFields) {
		t.Errorf("claims %q, want exactly %q", got, wantFields)
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"iss is the server URL", func(t *testing.T) {
			if p.claims["iss"] != srv.URL {
				t.Errorf("iss %v, want %q", p.claims["iss"], srv.URL)
			}
			if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
				t.Errorf("srv.URL %q, want http://127.0.0.1:<port>", srv.URL)
			}
		}},
		{"aud is an array of the server AUD", func(t *testing.T) {
			want, _ := json.Marshal([]string{srv.AUD})
			if string(p.rawClaims["aud"]) != string(want) {
				t.Errorf("aud %s, want %s", p.rawClaims["aud"], want)
			}
			if srv.AUD == "" {
				t.Error("srv.AUD is empty")
			}
		}},
		{"sub is a UUID", func(t *testing.T) {
			if s, _ := p.claims["sub"].(string); !uuidShape.MatchString(s) {
				t.Errorf("sub %v, want a lower-case UUID", p.claims["sub"])
			}
		}},
		{"email", func(t *testing.T) {
			if p.claims["email"] != "ann@example.com" {
				t.Errorf("email %v", p.claims["email"])
			}
		}},
		{"type is app", func(t *testing.T) {
			if p.claims["type"] != "app" {
				t.Errorf("type %v, want app", p.claims["type"])
			}
		}},
		{"identity_nonce present", func(t *testing.T) {
			if s, _ := p.claims["identity_nonce"].(string); s == "" {
				t.Errorf("identity_nonce %v, want a non-empty string", p.claims["identity_nonce"])
			}
		}},
		{"iat, nbf, exp are now, now, now+24h (the session)", func(t *testing.T) {
			iat := checkIssuedNow(t, p, before, after, accesstest.UserTokenLifetime)
			if nbf := unixClaim(t, p.claims, "nbf"); nbf != iat {
				t.Errorf("nbf %d, want iat %d", nbf, iat)
			}
		}},
		{"golang-jwt accepts it as RS256 for the server", func(t *testing.T) {
			tok, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
				kid, _ := tok.Header["kid"].(string)
				if pub := srv.PublicKey(kid); pub != nil {
					return pub, nil
				}
				return nil, fmt.Errorf("unknown kid %q", kid)
			}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(srv.URL), jwt.WithAudience(srv.AUD),
				jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			if err != nil || !tok.Valid {
				t.Errorf("jwt.Parse: %v", err)
			}
		}},
		{"sub is stable for one email", func(t *testing.T) {
			q := parseJWT(t, srv.Mint(accesstest.Token{Email: "ann@example.com", Country: "DE"}))
			if q.claims["sub"] != p.claims["sub"] {
				t.Errorf("second token sub %v, first %v: want the same", q.claims["sub"], p.claims["sub"])
			}
			if q.claims["identity_nonce"] == p.claims["identity_nonce"] {
				t.Errorf("two tokens share identity_nonce %v, want a random one each", q.claims["identity_nonce"])
			}
		}},
		{"sub differs between emails", func(t *testing.T) {
			q := parseJWT(t, srv.User("bob@example.com"))
			if q.claims["sub"] == p.claims["sub"] {
				t.Errorf("ann and bob share sub %v", p.claims["sub"])
			}
			if s, _ := q.claims["sub"].(string); !uuidShape.MatchString(s) {
				t.Errorf("sub %v, want a UUID", q.claims["sub"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func TestServiceTokenDefaults(t *testing.T) {
	srv := testkit.NewTeam(t)
	tests := []struct {
		name   string
		mint   func() string
		wantCN string // "" means any "<32 hex>.access"
	}{
		{"ServiceToken with a random client ID", func() string { return srv.ServiceToken("") }, ""},
		{"ServiceToken with a given client ID", func() string {
			return srv.ServiceToken("0123456789abcdef0123456789abcdef.access")
		}, "0123456789abcdef0123456789abcdef.access"},
		{"Mint with CommonName", func() string {
			return srv.Mint(accesstest.Token{CommonName: "feedface.access"})
		}, "feedface.access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Unix()
			p := parseJWT(t, tt.mint())
			after := time.Now().Unix()
			// As production's service tokens are captured: an empty sub, aud a bare string, and
			// no type or nbf (the reference's sample has type "app" and an aud array).
			want := []string{"aud", "common_name", "exp", "iat", "iss", "sub"}
			if got := sortedKeys(p.claims); !slices.Equal(got, want) {
				t.Errorf("claims %q, want exactly %q (no type, email, nbf or identity_nonce)", got, want)
			}
			cn, _ := p.claims["common_name"].(string)
			if tt.wantCN == "" && !clientIDShape.MatchString(cn) {
				t.Errorf("common_name %q, want <32 hex>.access", cn)
			}
			if tt.wantCN != "" && cn != tt.wantCN {
				t.Errorf("common_name %q, want %q", cn, tt.wantCN)
			}
			if sub, ok := p.claims["sub"].(string); !ok || sub != "" {
				t.Errorf("sub %#v, want \"\"", p.claims["sub"])
			}
			if p.claims["iss"] != srv.URL {
				t.Errorf("iss %v, want %q", p.claims["iss"], srv.URL)
			}
			if want, _ := json.Marshal(srv.AUD); string(p.rawClaims["aud"]) != string(want) {
				t.Errorf("aud %s, want the bare string %s", p.rawClaims["aud"], want)
			}
			checkIssuedNow(t, p, before, after, accesstest.ServiceTokenLifetime)
		})
	}
	t.Run("the reference's sample shape, through Type and Claims", func(t *testing.T) {
		p := parseJWT(t, srv.Mint(accesstest.Token{CommonName: "c.access", Type: "app",
			Claims: map[string]any{"aud": []string{srv.AUD}}}))
		want, _ := json.Marshal([]string{srv.AUD})
		if p.claims["type"] != "app" || string(p.rawClaims["aud"]) != string(want) {
			t.Errorf("type %v aud %s, want app and %s", p.claims["type"], p.rawClaims["aud"], want)
		}
		if _, ok := p.claims["nbf"]; ok {
			t.Error("nbf present")
		}
	})
	t.Run("random client IDs differ", func(t *testing.T) {
		a := parseJWT(t, srv.ServiceToken("")).claims["common_name"]
		b := parseJWT(t, srv.ServiceToken("")).claims["common_name"]
		if a == b {
			t.Errorf("two random client IDs are both %v", a)
		}
	})
}

func TestTokenFields(t *testing.T) {
	srv := testkit.NewTeam(t)
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	type check func(t *testing.T, p jwtParts)
	wantString := func(name, want string) check {
		return func(t *testing.T, p jwtParts) {
			t.Helper()
			if got, ok := p.claims[name].(string); !ok || got != want {
				t.Errorf("%s = %#v, want %q", name, p.claims[name], want)
			}
		}
	}
	wantRaw := func(name, want string) check {
		return func(t *testing.T, p jwtParts) {
			t.Helper()
			if got := string(p.rawClaims[name]); got != want {
				t.Errorf("%s = %s, want %s", name, got, want)
			}
		}
	}
	wantUnix := func(name string, want time.Time) check {
		return func(t *testing.T, p jwtParts) {
			t.Helper()
			if got := unixClaim(t, p.claims, name); got != want.Unix() {
				t.Errorf("%s = %d, want %d", name, got, want.Unix())
			}
		}
	}
	wantAbsent := func(names ...string) check {
		return func(t *testing.T, p jwtParts) {
			t.Helper()
			for _, n := range names {
				if v, ok := p.claims[n]; ok {
					t.Errorf("%s = %#v, want absent", n, v)
				}
			}
		}
	}
	wantPresent := func(names ...string) check {
		return func(t *testing.T, p jwtParts) {
			t.Helper()
			for _, n := range names {
				if _, ok := p.claims[n]; !ok {
					t.Errorf("%s absent, want present", n)
				}
			}
		}
	}
	tests := []struct {
		name   string
		tok    accesstest.Token
		checks []check
	}{
		{"Audience of several tags", accesstest.Token{Email: "a@x.com", Audience: []string{"aud1", "aud2"}},
			[]check{wantRaw("aud", `["aud1","aud2"]`)}},
		{"Audience of one tag is still an array", accesstest.Token{Email: "a@x.com", Audience: []string{"only"}},
			[]check{wantRaw("aud", `["only"]`)}},
		{"Audience of one tag of a service token is a string", accesstest.Token{CommonName: "c.access", Audience: []string{"only"}},
			[]check{wantRaw("aud", `"only"`)}},
		{"Audience of several tags of a service token is an array", accesstest.Token{CommonName: "c.access", Audience: []string{"a1", "a2"}},
			[]check{wantRaw("aud", `["a1","a2"]`)}},
		{"Issuer", accesstest.Token{Email: "a@x.com", Issuer: "https://other.cloudflareaccess.com"},
			[]check{wantString("iss", "https://other.cloudflareaccess.com")}},
		{"Subject", accesstest.Token{Email: "a@x.com", Subject: "custom-sub"},
			[]check{wantString("sub", "custom-sub")}},
		{"Type", accesstest.Token{Email: "a@x.com", Type: "org"},
			[]check{wantString("type", "org")}},
		{"Type of a service token", accesstest.Token{CommonName: "c.access", Type: "org"},
			[]check{wantString("type", "org")}},
		{"Country", accesstest.Token{Email: "a@x.com", Country: "DE"},
			[]check{wantString("country", "DE")}},
		{"no Country by default", accesstest.Token{Email: "a@x.com"},
			[]check{wantAbsent("country", "custom", "common_name")}},
		{"IdentityNonce", accesstest.Token{Email: "a@x.com", IdentityNonce: "nonce-1"},
			[]check{wantString("identity_nonce", "nonce-1")}},
		{"Custom, in sorted order", accesstest.Token{Email: "a@x.com", Custom: map[string]any{"groups": []string{"g1", "g2"}, "dept": "eng"}},
			[]check{wantRaw("custom", `{"dept":"eng","groups":["g1","g2"]}`)}},
		{"Custom in CustomOrder, the rest sorted after it", accesstest.Token{Email: "a@x.com",
			Custom:      map[string]any{"groups": []string{"g1"}, "dept": "eng", "b": 1, "a": 2},
			CustomOrder: []string{"groups", "nowhere", "dept", "groups"}},
			[]check{wantRaw("custom", `{"groups":["g1"],"dept":"eng","a":2,"b":1}`)}},
		{"empty Custom", accesstest.Token{Email: "a@x.com", Custom: map[string]any{}},
			[]check{wantRaw("custom", `{}`)}},
		{"Custom of a service token", accesstest.Token{CommonName: "c.access", Custom: map[string]any{"k": "v"}},
			[]check{wantRaw("custom", `{"k":"v"}`)}},
		{"IssuedAt sets nbf and exp too", accesstest.Token{Email: "a@x.com", IssuedAt: t0},
			[]check{wantUnix("iat", t0), wantUnix("nbf", t0), wantUnix("exp", t0.Add(accesstest.UserTokenLifetime))}},
		{"IssuedAt of a service token sets exp", accesstest.Token{CommonName: "c.access", IssuedAt: t0},
			[]check{wantUnix("iat", t0), wantAbsent("nbf"), wantUnix("exp", t0.Add(accesstest.ServiceTokenLifetime))}},
		{"NotBefore and ExpiresAt", accesstest.Token{Email: "a@x.com", IssuedAt: t0, NotBefore: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour)},
			[]check{wantUnix("iat", t0), wantUnix("nbf", t0.Add(time.Minute)), wantUnix("exp", t0.Add(24*time.Hour))}},
		{"ExpiresAt in the past", accesstest.Token{Email: "a@x.com", IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)},
			[]check{wantUnix("exp", t0.Add(-time.Hour))}},
		{"Omit", accesstest.Token{Email: "a@x.com", Omit: []string{"exp", "nbf", "iss", "identity_nonce"}},
			[]check{wantAbsent("exp", "nbf", "iss", "identity_nonce"), wantPresent("iat", "aud", "sub", "email", "type")}},
		{"Omit on a service token", accesstest.Token{CommonName: "c.access", Omit: []string{"sub", "nbf"}},
			[]check{wantAbsent("sub", "nbf", "type"), wantString("common_name", "c.access")}},
		{"Claims add and replace with the wrong types", accesstest.Token{Email: "a@x.com",
			Claims: map[string]any{"aud": "single", "exp": "tomorrow", "extra": map[string]any{"k": 1}}},
			[]check{wantRaw("aud", `"single"`), wantRaw("exp", `"tomorrow"`), wantRaw("extra", `{"k":1}`)}},
		{"Claims win over fields", accesstest.Token{Email: "a@x.com", Issuer: "https://a.example", Country: "DE",
			Claims: map[string]any{"iss": "https://b.example", "country": nil}},
			[]check{wantString("iss", "https://b.example"), wantRaw("country", "null")}},
		{"Email and CommonName make a user token with a common name", accesstest.Token{Email: "a@x.com", CommonName: "c.access"},
			[]check{wantString("email", "a@x.com"), wantString("common_name", "c.access"), wantString("type", "app"),
				wantPresent("identity_nonce"), func(t *testing.T, p jwtParts) {
					if s, _ := p.claims["sub"].(string); !uuidShape.MatchString(s) {
						t.Errorf("sub %v, want a UUID", p.claims["sub"])
					}
				}}},
		{"service token with Type and IdentityNonce", accesstest.Token{CommonName: "c.access", Type: "app", IdentityNonce: "n"},
			[]check{wantString("type", "app"), wantString("identity_nonce", "n"), wantString("sub", ""), wantAbsent("email")}},
		{"service token with Subject", accesstest.Token{CommonName: "c.access", Subject: "svc"},
			[]check{wantString("sub", "svc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseJWT(t, srv.Mint(tt.tok))
			if !p.signedBy(srv.PublicKey(srv.KeyIDs()[0])) {
				t.Error("not signed by the current key")
			}
			for _, c := range tt.checks {
				c(t, p)
			}
		})
	}
}

func TestSignRaw(t *testing.T) {
	srv := testkit.NewTeam(t)
	header := []byte(`{"alg":"RS256","kid":"` + srv.KeyIDs()[0] + `","x":1}`)
	payload := []byte(`{"not":"a claim set", "spaced" : true}`)
	token := srv.SignRaw(header, payload)
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		t.Fatalf("%d segments", len(segs))
	}
	for i, want := range [][]byte{header, payload} {
		got, err := base64.RawURLEncoding.Strict().DecodeString(segs[i])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("segment %d = %q (%v), want %q verbatim", i, got, err, want)
		}
	}
	if p := parseJWT(t, token); !p.signedBy(srv.PublicKey(srv.KeyIDs()[0])) {
		t.Error("SignRaw token does not verify with the current key")
	}
}
