package accesstest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

const (
	certsPath    = "/cdn-cgi/access/certs"
	identityPath = "/cdn-cgi/access/get-identity"
)

var (
	uuidShape     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	hex32Shape    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	clientIDShape = regexp.MustCompile(`^[0-9a-f]{32}\.access$`)
	googleGroupID = regexp.MustCompile(`^[0-9A-Za-z]{15}$`)
)

// ---- helpers ----

func newServer(t *testing.T) *accesstest.Server {
	t.Helper()
	srv := accesstest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// newClient is a client of the test's own, so that no connection outlives the test.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// noRedirects is a client that reports redirects instead of following them.
func noRedirects(t *testing.T) *http.Client {
	c := newClient(t, 10*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func cookieFor(token string) string { return core.CookieName + "=" + token }

// get fetches url with the Cookie header set to cookie (none when empty) and reads the body.
func get(t *testing.T, c *http.Client, url, cookie string) response {
	t.Helper()
	resp, err := do(c, url, cookie)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func do(c *http.Client, url, cookie string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return c.Do(req)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jwtParts is a compact token taken apart, without any verification.
type jwtParts struct {
	header       map[string]any
	claims       map[string]any
	rawClaims    map[string]json.RawMessage
	signingInput string
	payload      string // the payload segment
	sig          []byte
}

func parseJWT(t *testing.T, token string) jwtParts {
	t.Helper()
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		t.Fatalf("token has %d segments, want 3: %q", len(segs), token)
	}
	var p jwtParts
	for i, dst := range []any{&p.header, &p.claims, &p.rawClaims} {
		seg := segs[min(i, 1)]
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err != nil {
			t.Fatalf("segment %d is not unpadded base64url: %v", min(i, 1), err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("segment %d is not a JSON object: %v: %s", min(i, 1), err, b)
		}
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(segs[2])
	if err != nil {
		t.Fatalf("signature is not unpadded base64url: %v", err)
	}
	p.signingInput = segs[0] + "." + segs[1]
	p.payload = segs[1]
	p.sig = sig
	return p
}

// signedBy reports whether pub verifies the token's RS256 signature.
func (p jwtParts) signedBy(pub *rsa.PublicKey) bool {
	if pub == nil {
		return false
	}
	digest := sha256.Sum256([]byte(p.signingInput))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.sig) == nil
}

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

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}

// ---- the certs document ----

type certsDoc struct {
	Keys       []map[string]string `json:"keys"`
	PublicCert *struct {
		KID  string `json:"kid"`
		Cert string `json:"cert"`
	} `json:"public_cert"`
	PublicCerts []struct {
		KID  string `json:"kid"`
		Cert string `json:"cert"`
	} `json:"public_certs"`
}

func jwkPublicKey(t *testing.T, k map[string]string) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.Strict().DecodeString(k["n"])
	if err != nil {
		t.Fatalf("kid %s: n is not unpadded base64url: %v", k["kid"], err)
	}
	e, err := base64.RawURLEncoding.Strict().DecodeString(k["e"])
	if err != nil {
		t.Fatalf("kid %s: e is not unpadded base64url: %v", k["kid"], err)
	}
	if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 {
		t.Fatalf("kid %s: n or e has leading zero bytes or is empty", k["kid"])
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

func certPublicKey(t *testing.T, kid, certPEM string) *rsa.PublicKey {
	t.Helper()
	block, rest := pem.Decode([]byte(certPEM))
	if block == nil {
		t.Fatalf("kid %s: cert is not PEM: %q", kid, certPEM)
	}
	if block.Type != "CERTIFICATE" {
		t.Fatalf("kid %s: PEM block type %q, want CERTIFICATE", kid, block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("kid %s: trailing data after the certificate: %q", kid, rest)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("kid %s: x509.ParseCertificate: %v", kid, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("kid %s: certificate key is %T, want *rsa.PublicKey", kid, cert.PublicKey)
	}
	return pub
}

func TestCertsDocument(t *testing.T) {
	tests := []struct {
		name  string
		setup func(srv *accesstest.Server) (wantKIDs []string)
	}{
		{"a new server: the current and the previous key", func(srv *accesstest.Server) []string {
			ids := srv.KeyIDs()
			if len(ids) != 2 || ids[0] != srv.CurrentKeyID() {
				panic(fmt.Sprintf("KeyIDs() = %q, want two, current (%q) first", ids, srv.CurrentKeyID()))
			}
			return ids
		}},
		{"after one rotation", func(srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			k1 := srv.RotateKeys()
			return []string{k1, k0}
		}},
		{"after two rotations", func(srv *accesstest.Server) []string {
			srv.RotateKeys()
			k1 := srv.KeyIDs()[0]
			k2 := srv.RotateKeys()
			return []string{k2, k1}
		}},
		{"after the previous key is removed", func(srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			k1 := srv.RotateKeys()
			srv.RemoveKey(k0)
			return []string{k1}
		}},
		{"after the current key is removed", func(srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			k1 := srv.RotateKeys()
			srv.RemoveKey(k1)
			return []string{k0}
		}},
		{"with every key removed", func(srv *accesstest.Server) []string {
			for _, kid := range srv.KeyIDs() {
				srv.RemoveKey(kid)
			}
			return []string{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			want := tt.setup(srv)
			if got := srv.KeyIDs(); !slices.Equal(got, want) {
				t.Fatalf("KeyIDs() = %q, want %q", got, want)
			}
			r := get(t, newClient(t, 10*time.Second), srv.URL+certsPath, "")
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}

			var top map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &top); err != nil {
				t.Fatalf("not a JSON object: %v: %s", err, r.body)
			}
			wantTop := []string{"keys", "public_cert", "public_certs"}
			if len(want) == 0 {
				wantTop = []string{"keys", "public_certs"} // no current key, no public_cert
			}
			if got := sortedKeys(top); !slices.Equal(got, wantTop) {
				t.Errorf("top-level fields %q, want %q", got, wantTop)
			}
			if !bytes.HasPrefix(top["keys"], []byte("[")) || !bytes.HasPrefix(top["public_certs"], []byte("[")) {
				t.Errorf("keys and public_certs must be arrays (never null): %s", r.body)
			}

			var doc certsDoc
			if err := json.Unmarshal(r.body, &doc); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if len(doc.Keys) != len(want) || len(doc.PublicCerts) != len(want) {
				t.Fatalf("%d keys and %d public_certs, want %d of each", len(doc.Keys), len(doc.PublicCerts), len(want))
			}
			// Cloudflare's order: the current key, public_cert, comes last.
			listed := reversed(want)
			var seen []*rsa.PublicKey
			for i, k := range doc.Keys {
				if got := sortedKeys(k); !slices.Equal(got, []string{"alg", "e", "kid", "kty", "n", "use"}) {
					t.Errorf("key %d fields %q, want alg e kid kty n use", i, got)
				}
				if k["kid"] != listed[i] {
					t.Errorf("key %d kid %q, want %q (current last)", i, k["kid"], listed[i])
				}
				if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" {
					t.Errorf("key %d: kty %q alg %q use %q, want RSA RS256 sig", i, k["kty"], k["alg"], k["use"])
				}
				pub := jwkPublicKey(t, k)
				if pub.E != 65537 || pub.N.BitLen() != 2048 {
					t.Errorf("key %d: e=%d, %d bits; want 65537, 2048", i, pub.E, pub.N.BitLen())
				}
				if !pub.Equal(srv.PublicKey(k["kid"])) {
					t.Errorf("key %d: JWK differs from srv.PublicKey(%q)", i, k["kid"])
				}
				for _, other := range seen {
					if pub.Equal(other) {
						t.Errorf("key %d repeats an earlier key", i)
					}
				}
				seen = append(seen, pub)

				pc := doc.PublicCerts[i]
				if pc.KID != listed[i] {
					t.Errorf("public_certs[%d].kid %q, want %q", i, pc.KID, listed[i])
				}
				if cp := certPublicKey(t, pc.KID, pc.Cert); !cp.Equal(pub) || !cp.Equal(srv.PublicKey(pc.KID)) {
					t.Errorf("public_certs[%d]: certificate key differs from the JWK or srv.PublicKey", i)
				}
			}
			if len(want) == 0 {
				if doc.PublicCert != nil {
					t.Errorf("public_cert = %+v with no key published", doc.PublicCert)
				}
				return
			}
			if doc.PublicCert == nil {
				t.Fatal("no public_cert")
			}
			if doc.PublicCert.KID != want[0] || doc.PublicCert.Cert != doc.PublicCerts[len(want)-1].Cert {
				t.Errorf("public_cert is kid %q, want the current key %q with its certificate", doc.PublicCert.KID, want[0])
			}
			if cp := certPublicKey(t, doc.PublicCert.KID, doc.PublicCert.Cert); !cp.Equal(srv.PublicKey(want[0])) {
				t.Errorf("public_cert key differs from srv.PublicKey(current)")
			}
		})
	}
}

// ---- minted tokens ----

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
			srv := newServer(t)
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
	srv := newServer(t)
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
		{"iat, nbf, exp are now, now, now+1h", func(t *testing.T) {
			iat, nbf, exp := unixClaim(t, p.claims, "iat"), unixClaim(t, p.claims, "nbf"), unixClaim(t, p.claims, "exp")
			if iat < before-2 || iat > after+2 {
				t.Errorf("iat %d, want within a few seconds of %d..%d", iat, before, after)
			}
			if nbf != iat {
				t.Errorf("nbf %d, want iat %d", nbf, iat)
			}
			if exp != iat+3600 {
				t.Errorf("exp %d, want iat+3600 = %d", exp, iat+3600)
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
	srv := newServer(t)
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
			// Cloudflare's service-token sample: type app, an empty sub, no nbf.
			want := []string{"aud", "common_name", "exp", "iat", "iss", "sub", "type"}
			if got := sortedKeys(p.claims); !slices.Equal(got, want) {
				t.Errorf("claims %q, want exactly %q (no email, nbf or identity_nonce)", got, want)
			}
			if p.claims["type"] != "app" {
				t.Errorf("type %v, want app", p.claims["type"])
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
			if want, _ := json.Marshal([]string{srv.AUD}); string(p.rawClaims["aud"]) != string(want) {
				t.Errorf("aud %s, want %s", p.rawClaims["aud"], want)
			}
			iat := unixClaim(t, p.claims, "iat")
			if iat < before-2 || iat > after+2 || unixClaim(t, p.claims, "exp") != iat+3600 {
				t.Errorf("iat/exp = %v/%v, want now/now+1h", p.claims["iat"], p.claims["exp"])
			}
		})
	}
	t.Run("random client IDs differ", func(t *testing.T) {
		a := parseJWT(t, srv.ServiceToken("")).claims["common_name"]
		b := parseJWT(t, srv.ServiceToken("")).claims["common_name"]
		if a == b {
			t.Errorf("two random client IDs are both %v", a)
		}
	})
}

func TestTokenFields(t *testing.T) {
	srv := newServer(t)
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
		{"Issuer", accesstest.Token{Email: "a@x.com", Issuer: "https://other.cloudflareaccess.com"},
			[]check{wantString("iss", "https://other.cloudflareaccess.com")}},
		{"Subject", accesstest.Token{Email: "a@x.com", Subject: "custom-sub"},
			[]check{wantString("sub", "custom-sub")}},
		{"Type", accesstest.Token{Email: "a@x.com", Type: "org"},
			[]check{wantString("type", "org")}},
		{"Country", accesstest.Token{Email: "a@x.com", Country: "DE"},
			[]check{wantString("country", "DE")}},
		{"no Country by default", accesstest.Token{Email: "a@x.com"},
			[]check{wantAbsent("country", "custom", "common_name")}},
		{"IdentityNonce", accesstest.Token{Email: "a@x.com", IdentityNonce: "nonce-1"},
			[]check{wantString("identity_nonce", "nonce-1")}},
		{"Custom", accesstest.Token{Email: "a@x.com", Custom: map[string]any{"groups": []string{"g1", "g2"}, "dept": "eng"}},
			[]check{wantRaw("custom", `{"dept":"eng","groups":["g1","g2"]}`)}},
		{"IssuedAt sets nbf and exp too", accesstest.Token{Email: "a@x.com", IssuedAt: t0},
			[]check{wantUnix("iat", t0), wantUnix("nbf", t0), wantUnix("exp", t0.Add(time.Hour))}},
		{"NotBefore and ExpiresAt", accesstest.Token{Email: "a@x.com", IssuedAt: t0, NotBefore: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour)},
			[]check{wantUnix("iat", t0), wantUnix("nbf", t0.Add(time.Minute)), wantUnix("exp", t0.Add(24*time.Hour))}},
		{"ExpiresAt in the past", accesstest.Token{Email: "a@x.com", IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)},
			[]check{wantUnix("exp", t0.Add(-time.Hour))}},
		{"Omit", accesstest.Token{Email: "a@x.com", Omit: []string{"exp", "nbf", "iss", "identity_nonce"}},
			[]check{wantAbsent("exp", "nbf", "iss", "identity_nonce"), wantPresent("iat", "aud", "sub", "email", "type")}},
		{"Omit on a service token", accesstest.Token{CommonName: "c.access", Omit: []string{"sub", "nbf"}},
			[]check{wantAbsent("sub", "nbf"), wantString("common_name", "c.access")}},
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
	srv := newServer(t)
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
	p := jwtParts{signingInput: segs[0] + "." + segs[1]}
	p.sig, _ = base64.RawURLEncoding.DecodeString(segs[2])
	if !p.signedBy(srv.PublicKey(srv.KeyIDs()[0])) {
		t.Error("SignRaw token does not verify with the current key")
	}
}

// ---- key rotation ----

func TestRotateAndRemoveKeys(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, 10*time.Second)
	publishedKIDs := func(t *testing.T) []string {
		t.Helper()
		var doc certsDoc
		r := get(t, c, srv.URL+certsPath, "")
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range doc.Keys {
			kids = append(kids, k["kid"])
		}
		return kids
	}
	initial := srv.KeyIDs()
	if len(initial) != 2 || initial[0] == "" || initial[1] == "" || initial[0] != srv.CurrentKeyID() {
		t.Fatalf("a new server publishes %q, want two keys, the current one (%q) first", initial, srv.CurrentKeyID())
	}
	k0, kPrev := initial[0], initial[1]
	var k1, k2, k3, k4, k5 string

	steps := []struct {
		name   string
		do     func()
		want   func() []string // the published kids, in order
		signer func() string   // the kid that signs new tokens
	}{
		{"first rotation", func() { k1 = srv.RotateKeys() },
			func() []string { return []string{k1, k0} }, func() string { return k1 }},
		{"second rotation drops the original key", func() { k2 = srv.RotateKeys() },
			func() []string { return []string{k2, k1} }, func() string { return k2 }},
		{"removing an unknown kid changes nothing", func() { srv.RemoveKey("no-such-kid") },
			func() []string { return []string{k2, k1} }, func() string { return k2 }},
		{"removing the previous key", func() { srv.RemoveKey(k1) },
			func() []string { return []string{k2} }, func() string { return k2 }},
		{"removing a key twice changes nothing", func() { srv.RemoveKey(k1) },
			func() []string { return []string{k2} }, func() string { return k2 }},
		{"rotation after a removal", func() { k3 = srv.RotateKeys() },
			func() []string { return []string{k3, k2} }, func() string { return k3 }},
		{"removing the current key leaves it signing", func() { srv.RemoveKey(k3) },
			func() []string { return []string{k2} }, func() string { return k3 }},
		{"rotation does not bring a removed current key back", func() { k4 = srv.RotateKeys() },
			func() []string { return []string{k4} }, func() string { return k4 }},
		{"removing the last key", func() { srv.RemoveKey(k4) },
			func() []string { return []string{} }, func() string { return k4 }},
		{"rotation with no key published", func() { k5 = srv.RotateKeys() },
			func() []string { return []string{k5} }, func() string { return k5 }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			want, signer := st.want(), st.signer()
			if got := srv.KeyIDs(); !slices.Equal(got, want) {
				t.Fatalf("KeyIDs() = %q, want %q", got, want)
			}
			if got := publishedKIDs(t); !slices.Equal(got, reversed(want)) {
				t.Fatalf("certs document lists %q, want %q (current last)", got, reversed(want))
			}
			if got := srv.CurrentKeyID(); got != signer {
				t.Errorf("CurrentKeyID() = %q, want %q", got, signer)
			}
			p := parseJWT(t, srv.User("ann@example.com"))
			if p.header["kid"] != signer || !p.signedBy(srv.PublicKey(signer)) {
				t.Fatalf("new tokens carry kid %v, want %q and its signature", p.header["kid"], signer)
			}
		})
	}
	all := []string{kPrev, k0, k1, k2, k3, k4, k5}
	t.Run("distinct kids", func(t *testing.T) {
		if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
			t.Fatalf("kids repeat: %q", all)
		}
	})
	t.Run("PublicKey knows every key the server ever had", func(t *testing.T) {
		for i, kid := range all {
			pub := srv.PublicKey(kid)
			if pub == nil {
				t.Fatalf("PublicKey(%q) = nil", kid)
			}
			for _, earlier := range all[:i] {
				if pub.Equal(srv.PublicKey(earlier)) {
					t.Errorf("rotation reused a key: %q and %q", earlier, kid)
				}
			}
		}
		if srv.PublicKey("no-such-kid") != nil || srv.PublicKey("") != nil {
			t.Error("PublicKey of an unknown kid is not nil")
		}
	})
	t.Run("KeyIDs returns a copy", func(t *testing.T) {
		srv := newServer(t)
		ids := srv.KeyIDs()
		want := ids[0]
		ids[0] = "tampered"
		if got := srv.KeyIDs()[0]; got != want {
			t.Fatalf("KeyIDs()[0] = %q after modifying a returned slice, want %q", got, want)
		}
	})
}

// With no key published, the server still mints (RemoveKey: "Tokens can still be minted with
// it"), with the removed current key unless told otherwise, and a rotation publishes again.
func TestEveryKeyRemoved(t *testing.T) {
	tests := []struct {
		name string
		// op runs on a server whose only key k0 was removed; it returns a token (or "") and
		// the kid that must have signed it.
		op func(t *testing.T, srv *accesstest.Server, k0 string) (token, signer string)
	}{
		{"Mint with KeyID of the removed key", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: k0}), k0
		}},
		{"User", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.User("ann@example.com"), k0
		}},
		{"ServiceToken", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.ServiceToken(""), k0
		}},
		{"SignRaw", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+k0+`"}`), []byte(`{}`)), k0
		}},
		{"RotateKeys then User", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			k1 := srv.RotateKeys()
			if got := srv.KeyIDs(); !slices.Equal(got, []string{k1}) {
				t.Errorf("KeyIDs() after rotating an empty set = %q, want [%q]", got, k1)
			}
			return srv.User("ann@example.com"), k1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			k0 := srv.KeyIDs()[0]
			srv.RemoveKey(k0)

			var token, signer string
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				token, signer = tt.op(t, srv, k0)
			}()
			select {
			case p := <-done:
				if p != nil {
					t.Fatalf("panicked: %v", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("blocked")
			}
			p := parseJWT(t, token)
			if p.header["kid"] != signer || !p.signedBy(srv.PublicKey(signer)) {
				t.Fatalf("token carries kid %v, want %q and its signature", p.header["kid"], signer)
			}
			// The server still answers (no lock left held).
			r := get(t, newClient(t, 10*time.Second), srv.URL+certsPath, "")
			if r.status != http.StatusOK {
				t.Fatalf("certs: status %d", r.status)
			}
		})
	}
}

// ---- get-identity ----

func fetchIdentity(t *testing.T, srv *accesstest.Server, cookie string) (int, map[string]any, response) {
	t.Helper()
	r := get(t, newClient(t, 10*time.Second), srv.URL+identityPath, cookie)
	var doc map[string]any
	if r.status == http.StatusOK {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("identity is not a JSON object: %v: %s", err, r.body)
		}
	}
	return r.status, doc, r
}

func TestGetIdentityUser(t *testing.T) {
	srv := newServer(t)
	token := srv.User("ann@example.com", "admins", "devs")
	claims := parseJWT(t, token).claims
	status, doc, r := fetchIdentity(t, srv, cookieFor(token))
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", status, r.body)
	}
	for _, f := range []string{"id", "name", "email", "groups", "amr", "idp", "geo", "user_uuid", "account_id",
		"iat", "ip", "is_warp", "is_gateway", "version", "device_sessions", "service_token_id", "service_token_status"} {
		if _, ok := doc[f]; !ok {
			t.Errorf("field %q missing from %s", f, r.body)
		}
	}

	groupID := map[string]string{}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"user_uuid is the token's sub, id the provider's subject", func(t *testing.T) {
			if doc["user_uuid"] != claims["sub"] {
				t.Errorf("user_uuid %v, want sub %v", doc["user_uuid"], claims["sub"])
			}
			// Google's subject is a number of 21 digits.
			if id, _ := doc["id"].(string); id == claims["sub"] || !regexp.MustCompile(`^[1-9][0-9]{20}$`).MatchString(id) {
				t.Errorf("id %v, want Google's numeric subject, not sub %v", doc["id"], claims["sub"])
			}
		}},
		{"name and email", func(t *testing.T) {
			if doc["email"] != "ann@example.com" || doc["name"] != "ann" {
				t.Errorf("email %v name %v", doc["email"], doc["name"])
			}
		}},
		{"groups as id, name, email objects", func(t *testing.T) {
			groups, ok := doc["groups"].([]any)
			if !ok || len(groups) != 2 {
				t.Fatalf("groups %#v, want two objects", doc["groups"])
			}
			for i, name := range []string{"admins", "devs"} {
				g, ok := groups[i].(map[string]any)
				if !ok {
					t.Fatalf("groups[%d] = %#v, want an object", i, groups[i])
				}
				if got := sortedKeys(g); !slices.Equal(got, []string{"email", "id", "name"}) {
					t.Errorf("groups[%d] fields %q, want email id name", i, got)
				}
				id, _ := g["id"].(string)
				if g["name"] != name || g["email"] != name+"@example.com" || !googleGroupID.MatchString(id) {
					t.Errorf("groups[%d] = %v, want name %s, email %s@example.com, a Google group id", i, g, name, name)
				}
				groupID[name] = id
			}
			if groupID["admins"] == groupID["devs"] {
				t.Error("two groups share an id")
			}
		}},
		{"group ids are stable across users", func(t *testing.T) {
			_, other, _ := fetchIdentity(t, srv, cookieFor(srv.User("bob@example.org", "admins")))
			g := other["groups"].([]any)[0].(map[string]any)
			if g["id"] != groupID["admins"] || g["email"] != "admins@example.org" {
				t.Errorf("bob's admins group %v, want id %s and the user's domain", g, groupID["admins"])
			}
		}},
		{"amr, idp, geo", func(t *testing.T) {
			if amr, ok := doc["amr"].([]any); !ok || len(amr) == 0 {
				t.Errorf("amr %#v, want a non-empty array", doc["amr"])
			}
			idp, ok := doc["idp"].(map[string]any)
			if !ok || idp["id"] == "" || idp["type"] == "" || idp["id"] == nil || idp["type"] == nil {
				t.Errorf("idp %#v, want {id, type}", doc["idp"])
			}
			if geo, ok := doc["geo"].(map[string]any); !ok || geo["country"] != "US" {
				t.Errorf("geo %#v, want {country: US} by default", doc["geo"])
			}
		}},
		{"account, iat, ip, flags, version", func(t *testing.T) {
			if s, _ := doc["account_id"].(string); !hex32Shape.MatchString(s) {
				t.Errorf("account_id %v, want 32 hex digits", doc["account_id"])
			}
			if doc["iat"] != claims["iat"] {
				t.Errorf("iat %v, want the token's %v", doc["iat"], claims["iat"])
			}
			if s, _ := doc["ip"].(string); net.ParseIP(s) == nil {
				t.Errorf("ip %v, want an IP address", doc["ip"])
			}
			if doc["is_warp"] != false || doc["is_gateway"] != false || doc["service_token_status"] != false {
				t.Errorf("is_warp %v is_gateway %v service_token_status %v, want false", doc["is_warp"], doc["is_gateway"], doc["service_token_status"])
			}
			if _, ok := doc["version"].(float64); !ok {
				t.Errorf("version %#v, want a number", doc["version"])
			}
			if _, ok := doc["device_sessions"].(map[string]any); !ok {
				t.Errorf("device_sessions %#v, want an object", doc["device_sessions"])
			}
			if doc["service_token_id"] != "" {
				t.Errorf("service_token_id %#v, want \"\" for a user", doc["service_token_id"])
			}
		}},
		{"account_id is the same for every token of the server", func(t *testing.T) {
			_, other, _ := fetchIdentity(t, srv, cookieFor(srv.ServiceToken("")))
			if other["account_id"] != doc["account_id"] {
				t.Errorf("account_id %v, then %v", doc["account_id"], other["account_id"])
			}
		}},
		{"no groups is an empty array", func(t *testing.T) {
			_, _, r := fetchIdentity(t, srv, cookieFor(srv.User("carl@example.com")))
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &raw); err != nil {
				t.Fatal(err)
			}
			if string(raw["groups"]) != "[]" {
				t.Errorf("groups %s, want []", raw["groups"])
			}
		}},
		{"cookie among others", func(t *testing.T) {
			status, other, r := fetchIdentity(t, srv, "a=1; "+cookieFor(token)+"; b=2")
			if status != http.StatusOK || other["email"] != "ann@example.com" {
				t.Errorf("status %d: %s", status, r.body)
			}
		}},
		{"quoted cookie", func(t *testing.T) {
			if status, _, r := fetchIdentity(t, srv, core.CookieName+`="`+token+`"`); status != http.StatusOK {
				t.Errorf("status %d: %s", status, r.body)
			}
		}},
		{"same answer every time", func(t *testing.T) {
			_, _, again := fetchIdentity(t, srv, cookieFor(token))
			if !bytes.Equal(again.body, r.body) {
				t.Errorf("second answer differs:\n%s\n%s", r.body, again.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func TestGetIdentityOverrides(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name  string
		token func() string
		check func(t *testing.T, doc map[string]any, claims map[string]any)
	}{
		{"string groups", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Groups: []string{"ignored"}, Identity: map[string]any{"groups": []string{"g1", "g2"}}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if fmt.Sprint(doc["groups"]) != "[g1 g2]" {
				t.Errorf("groups %#v, want [g1 g2] as strings", doc["groups"])
			}
		}},
		{"nil removes fields", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Identity: map[string]any{"amr": nil, "geo": nil, "not_there": nil}})
		}, func(t *testing.T, doc, _ map[string]any) {
			for _, f := range []string{"amr", "geo", "not_there"} {
				if _, ok := doc[f]; ok {
					t.Errorf("%s present, want removed", f)
				}
			}
			if doc["email"] != "a@x.com" {
				t.Errorf("email %v: other fields must stay", doc["email"])
			}
		}},
		{"added and replaced fields", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Identity: map[string]any{
				"devicePosture": map[string]any{"check": map[string]any{"success": true}},
				"email":         "other@x.com",
				"is_warp":       true,
			}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if _, ok := doc["devicePosture"].(map[string]any); !ok {
				t.Errorf("devicePosture %#v, want the object", doc["devicePosture"])
			}
			if doc["email"] != "other@x.com" || doc["is_warp"] != true {
				t.Errorf("email %v is_warp %v, want the overrides", doc["email"], doc["is_warp"])
			}
		}},
		{"Groups through Mint", func() string {
			return srv.Mint(accesstest.Token{Email: "a@corp.example", Groups: []string{"ops"}})
		}, func(t *testing.T, doc, _ map[string]any) {
			gs, _ := doc["groups"].([]any)
			if len(gs) != 1 {
				t.Fatalf("groups %#v", doc["groups"])
			}
			if g, _ := gs[0].(map[string]any); g["name"] != "ops" || g["email"] != "ops@corp.example" {
				t.Errorf("group %v", gs[0])
			}
		}},
		{"Country sets geo", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Country: "DE"})
		}, func(t *testing.T, doc, _ map[string]any) {
			if geo, _ := doc["geo"].(map[string]any); geo["country"] != "DE" {
				t.Errorf("geo %#v, want country DE", doc["geo"])
			}
		}},
		{"Custom is reported", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Custom: map[string]any{"dept": "eng"}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if c, _ := doc["custom"].(map[string]any); c["dept"] != "eng" {
				t.Errorf("custom %#v, want {dept: eng}", doc["custom"])
			}
		}},
		{"Subject sets user_uuid, not id", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Subject: "sub-1"})
		}, func(t *testing.T, doc, _ map[string]any) {
			if doc["id"] == "sub-1" || doc["id"] == "" || doc["user_uuid"] != "sub-1" {
				t.Errorf("id %v user_uuid %v, want the provider's id and sub-1", doc["id"], doc["user_uuid"])
			}
		}},
		{"service token", func() string { return srv.ServiceToken("") }, func(t *testing.T, doc, claims map[string]any) {
			if doc["service_token_status"] != true {
				t.Errorf("service_token_status %v, want true", doc["service_token_status"])
			}
			if doc["common_name"] != claims["common_name"] || doc["common_name"] == "" {
				t.Errorf("common_name %v, want the client ID %v", doc["common_name"], claims["common_name"])
			}
			if s, _ := doc["service_token_id"].(string); !uuidShape.MatchString(s) {
				t.Errorf("service_token_id %v, want a UUID", doc["service_token_id"])
			}
			for _, f := range []string{"email", "groups"} {
				if _, ok := doc[f]; ok {
					t.Errorf("%s present in a service token's identity", f)
				}
			}
		}},
		{"service token with Identity", func() string {
			return srv.Mint(accesstest.Token{CommonName: "svc.access", Identity: map[string]any{"service_token_id": "given"}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if doc["service_token_id"] != "given" || doc["common_name"] != "svc.access" {
				t.Errorf("service_token_id %v common_name %v", doc["service_token_id"], doc["common_name"])
			}
		}},
		{"token signed by the previous key", func() string {
			k0 := srv.KeyIDs()[0]
			srv.RotateKeys()
			return srv.Mint(accesstest.Token{Email: "prev@x.com", KeyID: k0})
		}, func(t *testing.T, doc, _ map[string]any) {
			if doc["email"] != "prev@x.com" {
				t.Errorf("email %v", doc["email"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token()
			status, doc, r := fetchIdentity(t, srv, cookieFor(token))
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", status, r.body)
			}
			tt.check(t, doc, parseJWT(t, token).claims)
		})
	}
}

func TestGetIdentityRejects(t *testing.T) {
	srv := newServer(t)
	foreign := newServer(t)
	wantOK := func(t *testing.T, cookie string) {
		t.Helper()
		if status, _, r := fetchIdentity(t, srv, cookie); status != http.StatusOK {
			t.Fatalf("control request: status %d, want 200: %s", status, r.body)
		}
	}
	tests := []struct {
		name string
		// cookie sets up the case (checking a control where one makes sense) and returns the
		// Cookie header that must be refused.
		cookie func(t *testing.T) string
	}{
		{"no cookie", func(*testing.T) string { return "" }},
		{"empty cookie", func(*testing.T) string { return core.CookieName + "=" }},
		{"cookie name in lower case", func(t *testing.T) string {
			tok := srv.User("ann@example.com")
			wantOK(t, cookieFor(tok))
			return "cf_authorization=" + tok
		}},
		{"garbage", func(*testing.T) string { return cookieFor("garbage") }},
		{"three garbage segments", func(*testing.T) string { return cookieFor("a.b.c") }},
		{"four segments", func(t *testing.T) string {
			tok := srv.User("ann@example.com")
			wantOK(t, cookieFor(tok))
			return cookieFor(tok + ".x")
		}},
		{"tampered payload", func(t *testing.T) string {
			tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "tamper"})
			wantOK(t, cookieFor(tok))
			p := parseJWT(t, tok)
			p.claims["email"] = "mallory@example.com"
			payload, _ := json.Marshal(p.claims)
			segs := strings.Split(tok, ".")
			return cookieFor(segs[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + segs[2])
		}},
		{"signature of another token", func(t *testing.T) string {
			tok := srv.User("ann@example.com")
			wantOK(t, cookieFor(tok))
			other := srv.User("ann@example.com")
			return cookieFor(tok[:strings.LastIndexByte(tok, '.')] + other[strings.LastIndexByte(other, '.'):])
		}},
		{"alg HS256 with a valid RSA signature", func(t *testing.T) string {
			payload := parseJWT(t, srv.User("ann@example.com")).payload
			raw, _ := base64.RawURLEncoding.DecodeString(payload)
			kid := srv.KeyIDs()[0]
			wantOK(t, cookieFor(srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+kid+`"}`), raw)))
			return cookieFor(srv.SignRaw([]byte(`{"alg":"HS256","kid":"`+kid+`"}`), raw))
		}},
		{"kid not published", func(t *testing.T) string {
			wantOK(t, cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "unknown-kid"})))
			return cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "unknown-kid", KeyID: "no-such-kid"}))
		}},
		{"signed by a removed key", func(t *testing.T) string {
			k0 := srv.KeyIDs()[0]
			tok := srv.User("ann@example.com")
			srv.RotateKeys()
			wantOK(t, cookieFor(tok)) // the previous key still counts
			srv.RemoveKey(k0)
			return cookieFor(tok)
		}},
		{"signed by a foreign key under this server's kid", func(t *testing.T) string {
			kid := srv.KeyIDs()[0]
			wantOK(t, cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "forged"})))
			tok := foreign.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "forged", KeyID: kid,
				Issuer: srv.URL, Audience: []string{srv.AUD}})
			if got := parseJWT(t, tok).header["kid"]; got != kid {
				t.Fatalf("forged token kid %v, want %q", got, kid)
			}
			return cookieFor(tok)
		}},
		{"expired", func(t *testing.T) string {
			wantOK(t, cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "expired"})))
			return cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "expired",
				IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Minute)}))
		}},
		{"no identity recorded for a validly signed token", func(t *testing.T) string {
			kid := srv.KeyIDs()[0]
			header := []byte(`{"alg":"RS256","kid":"` + kid + `"}`)
			exp := time.Now().Add(time.Hour).Unix()
			srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "recorded"})
			wantOK(t, cookieFor(srv.SignRaw(header, fmt.Appendf(nil, `{"exp":%d,"identity_nonce":"recorded"}`, exp))))
			return cookieFor(srv.SignRaw(header, fmt.Appendf(nil, `{"exp":%d,"identity_nonce":"never-minted"}`, exp)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie := tt.cookie(t)
			status, _, r := fetchIdentity(t, srv, cookie)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var body map[string]string
			if err := json.Unmarshal(r.body, &body); err != nil || body["err"] == "" {
				t.Errorf("401 body %s, want JSON with an err message", r.body)
			}
		})
	}
}

// ---- counters ----

func TestRequestCounters(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, 10*time.Second)
	token := srv.User("ann@example.com")
	want := func(t *testing.T, certs, identity int) {
		t.Helper()
		if got := srv.CertsRequests(); got != certs {
			t.Errorf("CertsRequests() = %d, want %d", got, certs)
		}
		if got := srv.IdentityRequests(); got != identity {
			t.Errorf("IdentityRequests() = %d, want %d", got, identity)
		}
	}
	steps := []struct {
		name                 string
		do                   func(t *testing.T)
		wantCerts, wantIdent int
	}{
		{"a new server", func(*testing.T) {}, 0, 0},
		{"three certs requests", func(t *testing.T) {
			for range 3 {
				get(t, c, srv.URL+certsPath, "")
			}
		}, 3, 0},
		{"identity requests, refused ones too", func(t *testing.T) {
			get(t, c, srv.URL+identityPath, cookieFor(token))
			get(t, c, srv.URL+identityPath, "")
			get(t, c, srv.URL+identityPath, cookieFor("garbage"))
		}, 3, 3},
		{"other paths and methods are not counted", func(t *testing.T) {
			for _, p := range []string{"/", "/cdn-cgi/access/logout", certsPath + "/x", identityPath + "x"} {
				if r := get(t, c, srv.URL+p, ""); r.status != http.StatusNotFound {
					t.Errorf("GET %s: status %d, want 404", p, r.status)
				}
			}
			for _, p := range []string{certsPath, identityPath} {
				resp, err := c.Post(srv.URL+p, "application/json", strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("POST %s: status %d, want 405", p, resp.StatusCode)
				}
			}
		}, 3, 3},
		{"faulted requests are counted", func(t *testing.T) {
			srv.FailCerts(accesstest.Status500)
			srv.FailIdentity(accesstest.Status404)
			defer srv.FailCerts(accesstest.Healthy)
			defer srv.FailIdentity(accesstest.Healthy)
			get(t, c, srv.URL+certsPath, "")
			get(t, c, srv.URL+identityPath, cookieFor(token))
		}, 4, 4},
		{"a followed redirect counts twice", func(t *testing.T) {
			srv.FailCerts(accesstest.RedirectAway)
			defer srv.FailCerts(accesstest.Healthy)
			if r := get(t, c, srv.URL+certsPath, ""); r.status != http.StatusOK {
				t.Errorf("status %d after the redirect, want 200", r.status)
			}
		}, 6, 4},
		{"concurrent requests", func(t *testing.T) {
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					path, cookie := certsPath, ""
					if i%2 == 1 {
						path, cookie = identityPath, cookieFor(token)
					}
					resp, err := do(c, srv.URL+path, cookie)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				})
			}
			wg.Wait()
		}, 26, 24},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			want(t, st.wantCerts, st.wantIdent)
		})
	}
}

// ---- faults ----

type endpointUnderTest struct {
	name  string
	path  string
	fail  func(*accesstest.Server, accesstest.Fault)
	count func(*accesstest.Server) int
}

var endpoints = []endpointUnderTest{
	{"certs", certsPath, (*accesstest.Server).FailCerts, (*accesstest.Server).CertsRequests},
	{"get-identity", identityPath, (*accesstest.Server).FailIdentity, (*accesstest.Server).IdentityRequests},
}

// faultEnv is what a fault check needs: the endpoint's URL, the cookie to send, and the body
// the endpoint gives when healthy.
type faultEnv struct {
	srv     *accesstest.Server
	ep      endpointUnderTest
	url     string
	cookie  string
	healthy []byte
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault accesstest.Fault
		name  string
		check func(t *testing.T, e faultEnv)
	}{
		{accesstest.Status500, "Status500", func(t *testing.T, e faultEnv) {
			if r := get(t, newClient(t, 10*time.Second), e.url, e.cookie); r.status != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", r.status)
			}
		}},
		{accesstest.Status404, "Status404", func(t *testing.T, e faultEnv) {
			if r := get(t, newClient(t, 10*time.Second), e.url, e.cookie); r.status != http.StatusNotFound {
				t.Errorf("status %d, want 404", r.status)
			}
		}},
		{accesstest.Garbage, "Garbage", func(t *testing.T, e faultEnv) {
			r := get(t, newClient(t, 10*time.Second), e.url, e.cookie)
			if r.status != http.StatusOK || len(r.body) == 0 || json.Valid(r.body) {
				t.Errorf("status %d, body %q: want 200 with a body that is not JSON", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json (the lie is the point)", ct)
			}
		}},
		{accesstest.Truncated, "Truncated", func(t *testing.T, e faultEnv) {
			r := get(t, newClient(t, 10*time.Second), e.url, e.cookie)
			if r.status != http.StatusOK {
				t.Errorf("status %d, want 200", r.status)
			}
			if want := e.healthy[:len(e.healthy)/2]; !bytes.Equal(r.body, want) {
				t.Errorf("body of %d bytes, want the first half (%d bytes) of the real one", len(r.body), len(want))
			}
			if json.Valid(r.body) {
				t.Error("truncated body is valid JSON")
			}
		}},
		{accesstest.Huge, "Huge", func(t *testing.T, e faultEnv) {
			r := get(t, newClient(t, 10*time.Second), e.url, e.cookie)
			if r.status != http.StatusOK {
				t.Errorf("status %d, want 200", r.status)
			}
			if len(r.body) < 2<<20 || !json.Valid(r.body) {
				t.Errorf("body of %d bytes (valid JSON: %v), want valid JSON of at least 2 MiB", len(r.body), json.Valid(r.body))
			}
		}},
		{accesstest.Hang, "Hang", func(t *testing.T, e faultEnv) {
			start := time.Now()
			resp, err := do(newClient(t, 300*time.Millisecond), e.url, e.cookie)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want no answer", resp.StatusCode)
			}
			if !isTimeout(err) {
				t.Errorf("error %v, want a timeout", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("gave up after %v", d)
			}
		}},
		{accesstest.SlowDrip, "SlowDrip", func(t *testing.T, e faultEnv) {
			// A patient client gets a 200 and the real body, a byte at a time.
			resp, err := do(newClient(t, 0), e.url, e.cookie)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
			first := make([]byte, 3)
			_, err = io.ReadFull(resp.Body, first)
			resp.Body.Close()
			if err != nil || !bytes.Equal(first, e.healthy[:3]) {
				t.Errorf("first bytes %q (%v), want %q", first, err, e.healthy[:3])
			}

			// An impatient one times out before the body is complete.
			start := time.Now()
			resp, err = do(newClient(t, 300*time.Millisecond), e.url, e.cookie)
			if err != nil {
				if !isTimeout(err) {
					t.Errorf("error %v, want a timeout", err)
				}
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !isTimeout(err) {
				t.Errorf("reading the body: %v, want a timeout", err)
			}
			if len(body) >= len(e.healthy) || !bytes.HasPrefix(e.healthy, body) {
				t.Errorf("read %q before the timeout, want a strict prefix of the real body", body)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("gave up after %v", d)
			}
		}},
		{accesstest.Reset, "Reset", func(t *testing.T, e faultEnv) {
			resp, err := do(newClient(t, 10*time.Second), e.url, e.cookie)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want a connection error", resp.StatusCode)
			}
			if isTimeout(err) {
				t.Errorf("error %v is a timeout, want the connection closed at once", err)
			}
		}},
		{accesstest.RedirectAway, "RedirectAway", func(t *testing.T, e faultEnv) {
			resp, err := do(noRedirects(t), e.url, e.cookie)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302", resp.StatusCode)
			}
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := url.Parse(e.srv.URL)
			if loc.Hostname() != "localhost" || loc.Port() != orig.Port() || loc.Path != e.ep.path {
				t.Errorf("Location %s, want the same path on localhost:%s", loc, orig.Port())
			}
			if loc.Scheme+"://"+loc.Host == e.srv.URL {
				t.Errorf("Location %s is on the same origin", loc)
			}
			// The other origin answers normally, fault or not.
			r := get(t, newClient(t, 10*time.Second), loc.String(), e.cookie)
			if r.status != http.StatusOK || !bytes.Equal(r.body, e.healthy) {
				t.Errorf("the redirect target answered %d %q, want 200 with the real body", r.status, r.body)
			}
		}},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			srv := newServer(t)
			e := faultEnv{srv: srv, ep: ep, url: srv.URL + ep.path,
				cookie: cookieFor(srv.User("ann@example.com", "admins"))}
			healthy := get(t, newClient(t, 10*time.Second), e.url, e.cookie)
			if healthy.status != http.StatusOK || !json.Valid(healthy.body) {
				t.Fatalf("healthy endpoint: status %d, body %s", healthy.status, healthy.body)
			}
			e.healthy = healthy.body
			other := endpoints[0]
			if other.path == ep.path {
				other = endpoints[1]
			}

			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ep.fail(srv, tt.fault)
					before := ep.count(srv)
					tt.check(t, e)
					waitFor(t, "the request to be counted", func() bool { return ep.count(srv) > before })

					// The fault is this endpoint's only.
					if r := get(t, newClient(t, 10*time.Second), srv.URL+other.path, e.cookie); r.status != http.StatusOK {
						t.Errorf("%s answered %d while %s was faulty", other.name, r.status, ep.name)
					}
					// Healthy restores the real answer.
					ep.fail(srv, accesstest.Healthy)
					r := get(t, newClient(t, 10*time.Second), e.url, e.cookie)
					if r.status != http.StatusOK || !bytes.Equal(r.body, e.healthy) {
						t.Errorf("after Healthy: status %d, body %q; want the real answer", r.status, r.body)
					}
				})
			}
		})
	}
}

func TestHeld(t *testing.T) {
	type result struct {
		status int
		body   []byte
		err    error
	}
	tests := []struct {
		name    string
		release accesstest.Fault
		check   func(t *testing.T, r result, healthy []byte)
	}{
		{"released to Healthy", accesstest.Healthy, func(t *testing.T, r result, healthy []byte) {
			if r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, healthy) {
				t.Errorf("got %d %q (%v), want 200 with the real body", r.status, r.body, r.err)
			}
		}},
		{"released to Status500", accesstest.Status500, func(t *testing.T, r result, _ []byte) {
			if r.err != nil || r.status != http.StatusInternalServerError {
				t.Errorf("got %d (%v), want 500", r.status, r.err)
			}
		}},
		{"released to Garbage", accesstest.Garbage, func(t *testing.T, r result, _ []byte) {
			if r.err != nil || r.status != http.StatusOK || json.Valid(r.body) {
				t.Errorf("got %d %q (%v), want 200 with a body that is not JSON", r.status, r.body, r.err)
			}
		}},
		{"released to Truncated", accesstest.Truncated, func(t *testing.T, r result, healthy []byte) {
			if r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, healthy[:len(healthy)/2]) {
				t.Errorf("got %d %q (%v), want 200 with half the real body", r.status, r.body, r.err)
			}
		}},
	}
	for _, ep := range endpoints {
		for _, tt := range tests {
			t.Run(ep.name+"/"+tt.name, func(t *testing.T) {
				srv := newServer(t)
				cookie := cookieFor(srv.User("ann@example.com", "admins"))
				url := srv.URL + ep.path
				healthy := get(t, newClient(t, 10*time.Second), url, cookie)
				if healthy.status != http.StatusOK {
					t.Fatalf("healthy status %d", healthy.status)
				}
				ep.fail(srv, accesstest.Held)
				ep.fail(srv, accesstest.Held) // holding twice is holding once
				base := ep.count(srv)

				const n = 3
				results := make(chan result, n)
				client := newClient(t, 30*time.Second)
				for range n {
					go func() {
						resp, err := do(client, url, cookie)
						if err != nil {
							results <- result{err: err}
							return
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						results <- result{resp.StatusCode, body, err}
					}()
				}
				waitFor(t, "the held requests to arrive", func() bool { return ep.count(srv) == base+n })
				select {
				case r := <-results:
					t.Fatalf("a held request was answered: %d %q (%v)", r.status, r.body, r.err)
				default:
				}
				// The other endpoint is not held.
				other := endpoints[0]
				if other.path == ep.path {
					other = endpoints[1]
				}
				if r := get(t, newClient(t, 10*time.Second), srv.URL+other.path, cookie); r.status != http.StatusOK {
					t.Errorf("%s answered %d while %s was held", other.name, r.status, ep.name)
				}

				ep.fail(srv, tt.release)
				for range n {
					select {
					case r := <-results:
						tt.check(t, r, healthy.body)
					case <-time.After(10 * time.Second):
						t.Fatal("a held request was not released")
					}
				}
				// Once released, new requests are not held either.
				resp, err := do(newClient(t, 10*time.Second), url, cookie)
				if err != nil {
					t.Fatalf("after release: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				tt.check(t, result{resp.StatusCode, body, nil}, healthy.body)
			})
		}
		t.Run(ep.name+"/until the client gives up", func(t *testing.T) {
			srv := newServer(t)
			cookie := cookieFor(srv.User("ann@example.com"))
			ep.fail(srv, accesstest.Held)
			resp, err := do(newClient(t, 300*time.Millisecond), srv.URL+ep.path, cookie)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d from a held endpoint", resp.StatusCode)
			}
			if !isTimeout(err) {
				t.Errorf("error %v, want a timeout", err)
			}
		})
	}
}

// Releasing held requests to a fault and holding the endpoint again right away (to catch the
// next requests) must not change what the released ones answer.
func TestHeldReleaseThenHoldAgain(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			srv := newServer(t)
			cookie := cookieFor(srv.User("ann@example.com"))
			ep.fail(srv, accesstest.Held)
			const n = 3
			statuses := make(chan int, n)
			client := newClient(t, 30*time.Second)
			for range n {
				go func() {
					resp, err := do(client, srv.URL+ep.path, cookie)
					if err != nil {
						statuses <- -1
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					statuses <- resp.StatusCode
				}()
			}
			waitFor(t, "the held requests to arrive", func() bool { return ep.count(srv) == n })
			ep.fail(srv, accesstest.Status500) // release them with a 500 ...
			ep.fail(srv, accesstest.Held)      // ... and hold whatever comes next
			t.Cleanup(func() { ep.fail(srv, accesstest.Status500) })
			for range n {
				select {
				case st := <-statuses:
					if st != http.StatusInternalServerError {
						t.Errorf("a request released to Status500 answered %d", st)
					}
				case <-time.After(5 * time.Second):
					// Held again instead: acceptable, as long as it then answers the next release.
					ep.fail(srv, accesstest.Status500)
				}
			}
		})
	}
}

func TestCloseReleasesHeldRequests(t *testing.T) {
	for _, ep := range endpoints {
		for _, f := range []struct {
			name  string
			fault accesstest.Fault
		}{{"Hang", accesstest.Hang}, {"SlowDrip", accesstest.SlowDrip}, {"Held", accesstest.Held}} {
			t.Run(ep.name+"/"+f.name, func(t *testing.T) {
				srv := newServer(t)
				cookie := cookieFor(srv.User("ann@example.com"))
				ep.fail(srv, f.fault)

				client := newClient(t, 60*time.Second)
				clientDone := make(chan struct{})
				go func() {
					defer close(clientDone)
					resp, err := do(client, srv.URL+ep.path, cookie)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
				waitFor(t, "the request to arrive", func() bool { return ep.count(srv) == 1 })

				closed := make(chan struct{})
				go func() { srv.Close(); close(closed) }()
				select {
				case <-closed:
				case <-time.After(5 * time.Second):
					t.Fatal("Close did not return while a request was held")
				}
				select {
				case <-clientDone:
				case <-time.After(5 * time.Second):
					t.Fatal("the held request did not end after Close")
				}
				// The server is gone.
				if resp, err := do(newClient(t, 5*time.Second), srv.URL+certsPath, ""); err == nil {
					resp.Body.Close()
					t.Errorf("a request after Close got status %d", resp.StatusCode)
				}
			})
		}
	}
}

// ---- Config ----

func TestConfigVerifies(t *testing.T) {
	srv := newServer(t)
	cfg := srv.Config()
	if cfg.TeamDomain != srv.URL || !slices.Equal(cfg.Audiences, []string{srv.AUD}) {
		t.Fatalf("Config() = %+v, want TeamDomain %q and Audiences [%q]", cfg, srv.URL, srv.AUD)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier(srv.Config()): %v", err)
	}
	waitFor(t, "the verifier to fetch the key set", func() bool { return srv.CertsRequests() >= 1 })
	if n := srv.CertsRequests(); n != 1 {
		t.Errorf("CertsRequests() = %d after NewVerifier, want 1", n)
	}
	other := newServer(t)
	ctx := context.Background()

	tests := []struct {
		name    string
		token   func() string
		wantErr error
		check   func(t *testing.T, c *core.Claims)
	}{
		{"user", func() string { return srv.User("ann@example.com", "admins") }, nil, func(t *testing.T, c *core.Claims) {
			if c.Email != "ann@example.com" || c.Issuer != srv.URL || !slices.Equal(c.Audience, []string{srv.AUD}) ||
				c.Type != "app" || c.IdentityNonce == "" || !uuidShape.MatchString(c.Subject) || c.IsServiceToken() {
				t.Errorf("claims %+v", c)
			}
			if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
				t.Errorf("expires in %v, want an hour", d)
			}
		}},
		{"user with country and custom", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", Country: "DE", Custom: map[string]any{"k": "v"}})
		}, nil, func(t *testing.T, c *core.Claims) {
			if c.Country != "DE" || string(c.Custom) != `{"k":"v"}` {
				t.Errorf("country %q custom %s", c.Country, c.Custom)
			}
		}},
		{"service token", func() string { return srv.ServiceToken("") }, nil, func(t *testing.T, c *core.Claims) {
			if !c.IsServiceToken() || !clientIDShape.MatchString(c.CommonName) || c.Email != "" {
				t.Errorf("claims %+v, want a service token", c)
			}
		}},
		{"token of another team", func() string { return other.User("ann@example.com") }, core.ErrInvalidToken, nil},
		{"token of another application", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other-app"}})
		}, core.ErrInvalidToken, nil},
		{"token of another issuer", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", Issuer: other.URL})
		}, core.ErrInvalidToken, nil},
		{"expired token", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour)})
		}, core.ErrInvalidToken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(ctx, tt.token())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.check(t, c)
		})
	}

	t.Run("rotation as Cloudflare does it", func(t *testing.T) {
		srv := newServer(t)
		cfg := srv.Config()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg.UnknownKeyCooldown = time.Nanosecond
		cfg.TokenCacheSize = -1
		v, err := core.NewVerifier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		old := srv.User("ann@example.com")
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatalf("before rotation: %v", err)
		}
		srv.RotateKeys()
		if _, err := v.Verify(ctx, srv.User("ann@example.com")); err != nil {
			t.Fatalf("token of the new key: %v", err)
		}
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatalf("token of the previous key after rotation: %v", err)
		}
	})
}
