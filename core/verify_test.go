package core_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

var b64 = base64.RawURLEncoding

// hs256 signs header.payload with HMAC-SHA256 under key: the classic attack of handing an
// RSA public key to a verifier that trusts the token's alg.
func hs256(header, payload string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(header + "." + payload))
	return header + "." + payload + "." + b64.EncodeToString(m.Sum(nil))
}

func TestVerifyAcceptsUserToken(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	tok := srv.Mint(accesstest.Token{
		Email:   "ann@example.com",
		Country: "PT",
		Custom:  map[string]any{"department": "ops"},
		Claims:  map[string]any{"extra": 42},
	})
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := testkit.Segments(t, tok)
	raw, _ := b64.DecodeString(payload)
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Email != "ann@example.com" || c.Country != "PT" || c.Type != "app":
		t.Errorf("email/country/type = %q/%q/%q", c.Email, c.Country, c.Type)
	case c.Issuer != srv.URL || len(c.Audience) != 1 || c.Audience[0] != srv.AUD:
		t.Errorf("iss/aud = %q/%q", c.Issuer, c.Audience)
	case c.Subject != want["sub"] || c.Subject == "" || c.IdentityNonce != want["identity_nonce"]:
		t.Errorf("sub/nonce = %q/%q, payload %v", c.Subject, c.IdentityNonce, want)
	case c.ExpiresAt.Unix() != int64(want["exp"].(float64)) || c.IssuedAt.Unix() != int64(want["iat"].(float64)):
		t.Errorf("exp/iat = %v/%v", c.ExpiresAt, c.IssuedAt)
	case c.NotBefore.Unix() != int64(want["nbf"].(float64)):
		t.Errorf("nbf = %v", c.NotBefore)
	case string(c.Custom) != `{"department":"ops"}`:
		t.Errorf("custom = %s", c.Custom)
	case string(c.Raw) != string(raw):
		t.Errorf("raw = %s, want the signed payload %s", c.Raw, raw)
	case c.IsServiceToken():
		t.Error("a user token reported as a service token")
	}
	out, err := json.Marshal(c)
	if err != nil || string(out) != string(raw) {
		t.Errorf("MarshalJSON = %s, %v; want the payload with its own field names", out, err)
	}
}

func TestVerifyAcceptsServiceToken(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	// Service tokens may come without nbf or type; both are optional.
	tok := srv.Mint(accesstest.Token{CommonName: "0123456789abcdef0123456789abcdef.access", Omit: []string{"nbf", "type"}})
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsServiceToken() || c.CommonName != "0123456789abcdef0123456789abcdef.access" {
		t.Errorf("IsServiceToken = %v, common_name %q", c.IsServiceToken(), c.CommonName)
	}
	if c.Subject != "" || c.Email != "" || !c.NotBefore.IsZero() || c.Type != "" {
		t.Errorf("service token claims: %+v", c)
	}
}

func TestVerifyAudience(t *testing.T) {
	srv := testkit.NewTeam(t)
	other := "0000000000000000000000000000000000000000000000000000000000000000"
	second := "1111111111111111111111111111111111111111111111111111111111111111"
	cfg := testkit.Config(srv, nil)
	cfg.Audiences = []string{srv.AUD, second}
	v := testkit.NewVerifier(t, cfg)

	checkClaim(t, srv, v, "aud", []claimCase{
		{name: "array with the audience", value: []string{srv.AUD}},
		{name: "plain string", value: srv.AUD},
		{name: "second configured audience", value: []string{second}},
		{name: "second configured audience as string", value: second},
		{name: "array with another audience first", value: []string{other, srv.AUD}},
		{name: "another audience", value: []string{other}, reason: core.ReasonAudience},
		{name: "another audience as string", value: other, reason: core.ReasonAudience},
		{name: "audience differing in case", value: strings.ToUpper(srv.AUD), reason: core.ReasonAudience},
		{name: "prefix of the audience", value: srv.AUD[:32], reason: core.ReasonAudience},
		{name: "empty array", value: []string{}, reason: core.ReasonMissingClaim},
		{name: "empty string", value: "", reason: core.ReasonMissingClaim},
		{name: "absent", omit: true, reason: core.ReasonMissingClaim},
		{name: "null", value: nil, reason: core.ReasonMissingClaim},
		{name: "number", value: 42, reason: core.ReasonMalformed},
		{name: "array of numbers", value: []int{1}, reason: core.ReasonMalformed},
	})
}

// claimCase is a value of a claim, or its absence (omit), and the reason Verify must refuse a
// token with it for ("": Verify must accept it).
type claimCase struct {
	name   string
	value  any
	omit   bool
	reason core.Reason
}

// checkClaim verifies, with v, a token of srv for each case, with the claim set as the case
// says.
func checkClaim(t *testing.T, srv *accesstest.Server, v *core.Verifier, claim string, cases []claimCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := accesstest.Token{Email: "ann@example.com", Claims: map[string]any{claim: tc.value}}
			if tc.omit {
				tok.Claims, tok.Omit = nil, []string{claim}
			}
			_, err := v.Verify(context.Background(), srv.Mint(tok))
			wantReason(t, err, tc.reason)
		})
	}
}

// wantReason fails the test unless err is an invalid_token error for reason or, when reason
// is empty, nil.
func wantReason(t *testing.T, err error, reason core.Reason) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return
	}
	testkit.WantCode(t, err, core.CodeInvalidToken, reason)
}

func TestVerifyIssuer(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	checkClaim(t, srv, v, "iss", []claimCase{
		{name: "trailing slash", value: srv.URL + "/", reason: core.ReasonIssuer},
		{name: "another team", value: "https://otherteam.cloudflareaccess.com", reason: core.ReasonIssuer},
		{name: "https instead of http", value: strings.Replace(srv.URL, "http://", "https://", 1), reason: core.ReasonIssuer},
		{name: "upper case", value: strings.ToUpper(srv.URL), reason: core.ReasonIssuer},
		{name: "empty", value: "", reason: core.ReasonMissingClaim},
		{name: "absent", omit: true, reason: core.ReasonMissingClaim},
		{name: "number", value: 7, reason: core.ReasonMalformed},
	})
}

// TestVerifyTimes walks each time claim across its leeway boundary, to the nanosecond, on a
// settable clock.
func TestVerifyTimes(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	cfg.Tokens.CacheSize = core.None // every call is a full verification
	cfg.Tokens.Leeway = 20 * time.Second
	v := testkit.NewVerifier(t, cfg)
	base := clk.Now().Truncate(time.Second)
	L := cfg.Tokens.Leeway

	for _, tc := range []struct {
		name   string
		tok    accesstest.Token
		now    time.Time
		reason core.Reason
	}{
		{"exp inside leeway", accesstest.Token{IssuedAt: base.Add(-time.Hour), ExpiresAt: base}, base.Add(L - time.Nanosecond), ""},
		{"exp at leeway", accesstest.Token{IssuedAt: base.Add(-time.Hour), ExpiresAt: base}, base.Add(L), core.ReasonExpired},
		{"exp long past", accesstest.Token{IssuedAt: base.Add(-3 * time.Hour), ExpiresAt: base.Add(-2 * time.Hour)}, base, core.ReasonExpired},
		{"exp absent", accesstest.Token{Omit: []string{"exp"}}, base, core.ReasonMissingClaim},
		{"exp as string", accesstest.Token{Claims: map[string]any{"exp": "tomorrow"}}, base, core.ReasonMalformed},
		{"exp fractional", accesstest.Token{Claims: map[string]any{"exp": float64(base.Unix()) + 3600.5}}, base, ""},
		{"exp absurd", accesstest.Token{Claims: map[string]any{"exp": 1e300}}, base, core.ReasonMalformed},
		{"nbf at leeway", accesstest.Token{IssuedAt: base.Add(-time.Minute), NotBefore: base}, base.Add(-L), ""},
		{"nbf beyond leeway", accesstest.Token{IssuedAt: base.Add(-time.Minute), NotBefore: base}, base.Add(-L - time.Nanosecond), core.ReasonNotYetValid},
		{"nbf absent", accesstest.Token{Omit: []string{"nbf"}}, base, ""},
		{"iat at leeway", accesstest.Token{IssuedAt: base, NotBefore: base.Add(-time.Hour)}, base.Add(-L), ""},
		{"iat beyond leeway", accesstest.Token{IssuedAt: base, NotBefore: base.Add(-time.Hour)}, base.Add(-L - time.Nanosecond), core.ReasonIssuedInFuture},
		{"iat absent", accesstest.Token{Omit: []string{"iat"}, NotBefore: base.Add(-time.Minute)}, base, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tok.Email = "ann@example.com"
			if tc.tok.ExpiresAt.IsZero() {
				tc.tok.ExpiresAt = base.Add(time.Hour)
			}
			if tc.tok.IssuedAt.IsZero() {
				tc.tok.IssuedAt = base
			}
			tok := srv.Mint(tc.tok)
			clk.Set(tc.now)
			_, err := v.Verify(context.Background(), tok)
			wantReason(t, err, tc.reason)
		})
	}
}

// TestVerifyNoLeeway: with Tokens.Leeway None, exp and nbf hold to the nanosecond, cached
// or not.
func TestVerifyNoLeeway(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	base := clk.Now().Truncate(time.Second)
	for _, size := range []int{0, core.None} {
		cfg := testkit.Config(srv, clk)
		cfg.Tokens.Leeway = core.None
		cfg.Tokens.CacheSize = size
		v := testkit.NewVerifier(t, cfg)
		tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: base.Add(-time.Minute), NotBefore: base, ExpiresAt: base.Add(time.Minute)})
		for _, tc := range []struct {
			now    time.Time
			reason core.Reason
		}{
			{base.Add(-time.Nanosecond), core.ReasonNotYetValid},
			{base, ""},
			{base.Add(time.Minute - time.Nanosecond), ""},
			{base.Add(time.Minute), core.ReasonExpired},
		} {
			t.Run(fmt.Sprintf("cache size %d, at %v", size, tc.now.Sub(base)), func(t *testing.T) {
				clk.Set(tc.now)
				_, err := v.Verify(context.Background(), tok)
				wantReason(t, err, tc.reason)
			})
		}
	}
}

// TestVerifyRejectsForgeries tries the attacks on the signature and the header.
func TestVerifyRejectsForgeries(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	valid := srv.User("ann@example.com")
	h, p, s := testkit.Segments(t, valid)
	kid := srv.KeyIDs()[0]
	pub := srv.PublicKey(kid)

	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
	header := func(alg string) string {
		return rs256.Segment(t, map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	}

	// A token from another team domain's key, carrying this team's kid and claims.
	foreign := testkit.NewTeam(t)
	foreignTok := foreign.Mint(accesstest.Token{Email: "ann@example.com", KeyID: kid, Issuer: srv.URL, Audience: []string{srv.AUD}})

	// The same claims with a different e-mail, under the original signature.
	var claims map[string]any
	raw, _ := b64.DecodeString(p)
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["email"] = "mallory@example.com"
	tampered := rs256.Segment(t, claims)

	sig, _ := b64.DecodeString(s)
	flipped := append([]byte(nil), sig...)
	flipped[len(flipped)/2] ^= 0x01

	for _, tc := range []struct {
		name, token string
		reason      core.Reason
	}{
		{"alg none, no signature", header("none") + "." + p + ".", core.ReasonAlgorithm},
		{"alg none, original signature", header("none") + "." + p + "." + s, core.ReasonAlgorithm},
		{"alg None", header("None") + "." + p + ".", core.ReasonAlgorithm},
		{"HS256 keyed with the PEM public key", hs256(header("HS256"), p, pemPKIX), core.ReasonAlgorithm},
		{"HS256 keyed with the PKCS#1 PEM", hs256(header("HS256"), p, pemPKCS1), core.ReasonAlgorithm},
		{"HS256 keyed with the DER public key", hs256(header("HS256"), p, pkix), core.ReasonAlgorithm},
		{"HS256 keyed with the modulus", hs256(header("HS256"), p, pub.N.Bytes()), core.ReasonAlgorithm},
		{"RS384 header", header("RS384") + "." + p + "." + s, core.ReasonAlgorithm},
		{"PS256 header", header("PS256") + "." + p + "." + s, core.ReasonAlgorithm},
		{"ES256 header", header("ES256") + "." + p + "." + s, core.ReasonAlgorithm},
		{"lower-case rs256", header("rs256") + "." + p + "." + s, core.ReasonAlgorithm},
		{"no alg", rs256.Segment(t, map[string]string{"kid": kid}) + "." + p + "." + s, core.ReasonAlgorithm},
		{"foreign key under a known kid", foreignTok, core.ReasonSignature},
		{"tampered payload", h + "." + tampered + "." + s, core.ReasonSignature},
		{"payload of another token", h + "." + func() string { _, p2, _ := testkit.Segments(t, srv.User("bob@example.com")); return p2 }() + "." + s, core.ReasonSignature},
		{"flipped signature bit", h + "." + p + "." + b64.EncodeToString(flipped), core.ReasonSignature},
		{"truncated signature", h + "." + p + "." + b64.EncodeToString(sig[:len(sig)-1]), core.ReasonSignature},
		{"empty signature", h + "." + p + ".", core.ReasonSignature},
		{"signature of zeros", h + "." + p + "." + b64.EncodeToString(make([]byte, len(sig))), core.ReasonSignature},
		{"critical header", rs256.Segment(t, map[string]any{"alg": "RS256", "kid": kid, "crit": []string{"exp"}}) + "." + p + "." + s, core.ReasonCritical},
		{"no kid", rs256.Segment(t, map[string]string{"alg": "RS256"}) + "." + p + "." + s, core.ReasonNoKeyID},
		{"empty kid", rs256.Segment(t, map[string]string{"alg": "RS256", "kid": ""}) + "." + p + "." + s, core.ReasonNoKeyID},
		{"kid not a string", rs256.Segment(t, map[string]any{"alg": "RS256", "kid": 1}) + "." + p + "." + s, core.ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.token)
			if c != nil {
				t.Fatalf("forgery accepted: %+v", c)
			}
			testkit.WantCode(t, err, core.CodeInvalidToken, tc.reason)
			if !errors.Is(err, core.ErrInvalidToken) || errors.Is(err, core.ErrUnavailable) {
				t.Errorf("errors.Is mismatch for %v", err)
			}
			if strings.Contains(err.Error(), tc.token) || strings.Contains(err.Error(), s) {
				t.Errorf("error text contains the token: %v", err)
			}
		})
	}
	mustVerify(t, v, valid, "the untouched token no longer verifies")
}

func TestVerifyRejectsMalformed(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	valid := srv.User("ann@example.com")
	h, p, s := testkit.Segments(t, valid)
	kid := srv.KeyIDs()[0]
	hdr := []byte(`{"alg":"RS256","kid":"` + kid + `"}`)
	exp := time.Now().Add(time.Hour).Unix()
	good := func(extra string) []byte {
		b, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": srv.AUD, "exp": exp, "sub": "x"})
		return append(b[:len(b)-1], []byte(extra+"}")...)
	}
	// Sanity: the hand-built payload verifies when well formed.
	mustVerify(t, v, srv.SignRaw(hdr, good("")), "hand-built token")

	for _, tc := range []struct {
		name, token string
		code        core.Code
		reason      core.Reason
	}{
		{"empty", "", core.CodeMissingToken, ""},
		{"one segment", h, core.CodeInvalidToken, core.ReasonMalformed},
		{"two segments", h + "." + p, core.CodeInvalidToken, core.ReasonMalformed},
		{"four segments", valid + "." + s, core.CodeInvalidToken, core.ReasonMalformed},
		{"dots only", "..", core.CodeInvalidToken, core.ReasonMalformed},
		{"padded signature", valid + "==", core.CodeInvalidToken, core.ReasonMalformed},
		{"signature spelled with stray low bits", valid[:len(valid)-1] + respell(valid[len(valid)-1]), core.CodeInvalidToken, core.ReasonMalformed},
		{"standard base64 alphabet", h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+/", core.CodeInvalidToken, core.ReasonMalformed},
		{"space inside", h + " ." + p + "." + s, core.CodeInvalidToken, core.ReasonMalformed},
		{"header not JSON", b64.EncodeToString([]byte("RS256")) + "." + p + "." + s, core.CodeInvalidToken, core.ReasonMalformed},
		{"header a JSON array", b64.EncodeToString([]byte(`["RS256"]`)) + "." + p + "." + s, core.CodeInvalidToken, core.ReasonMalformed},
		{"header with trailing data", b64.EncodeToString(append(hdr, 'x')) + "." + p + "." + s, core.CodeInvalidToken, core.ReasonMalformed},
		{"signed payload not JSON", srv.SignRaw(hdr, []byte("hello")), core.CodeInvalidToken, core.ReasonMalformed},
		{"signed payload with trailing data", srv.SignRaw(hdr, append(good(""), " {}"...)), core.CodeInvalidToken, core.ReasonMalformed},
		{"signed payload with invalid UTF-8", srv.SignRaw(hdr, good(`,"email":"`+"\xff"+`"`)), core.CodeInvalidToken, core.ReasonMalformed},
		{"signed payload a JSON array", srv.SignRaw(hdr, []byte(`[1]`)), core.CodeInvalidToken, core.ReasonMalformed},
		{"oversized", strings.Repeat("a", core.DefaultMaxTokenSize+1), core.CodeInvalidToken, core.ReasonTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.token)
			if c != nil {
				t.Fatalf("accepted, e-mail %q", c.Email)
			}
			testkit.WantCode(t, err, tc.code, tc.reason)
		})
	}
	// A signed payload may carry escapes and unknown claims of any shape.
	odd := good(`,"email":"\u0061nn@example.com","x":{"y":[1,2.5e3,true,null,"z"]}`)
	c, err := v.Verify(context.Background(), srv.SignRaw(hdr, odd))
	if err != nil || c.Email != "ann@example.com" {
		t.Fatalf("escaped payload: %v, %+v", err, c)
	}
	if n := srv.CertsRequests(); n != 1 {
		t.Errorf("malformed tokens caused %d key fetches, want only the one at boot", n)
	}
}

// respell returns another base64url character with the same high two bits as c: in the last
// character of a 256-byte signature only those two carry data, so the token would decode to
// the same signature under a second spelling unless decoding is strict.
func respell(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestVerifyUnknownKeyID(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	_, err := v.Verify(context.Background(), srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: "not-a-key"}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	if n := srv.CertsRequests(); n != 2 {
		t.Errorf("certs fetched %d times, want 2 (boot, then once for the unknown kid)", n)
	}
}

// TestVerifyReadsLittleBeforeTheSignature: a header over 1 KiB is refused before it is
// decoded; nothing of the payload is decoded before the signature verifies, under a known
// kid; and under an unknown kid only the payload's iat is read, wherever it is, to tell a
// token that may carry a key published since the last fetch (503) from one that cannot
// (401).
func TestVerifyReadsLittleBeforeTheSignature(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	kid := srv.CurrentKeyID()
	payload := func(iatFirst bool, pad int) []byte {
		iat := `"iat":` + strconv.FormatInt(clk.Now().Unix(), 10)
		claims := fmt.Sprintf(`"iss":%q,"aud":%q,"exp":%d,"sub":"x","pad":%q`, srv.URL, srv.AUD, clk.Now().Add(time.Hour).Unix(), strings.Repeat("p", pad))
		if iatFirst {
			return []byte("{" + iat + "," + claims + "}")
		}
		return []byte("{" + claims + "," + iat + "}")
	}
	// A header of exactly 1 KiB, encoded, is read; one byte more is not.
	header := func(encoded int) []byte {
		h := []byte(`{"alg":"RS256","kid":"` + kid + `","x":"`)
		return append(h, strings.Repeat("h", encoded*3/4-len(h)-2)+`"}`...)
	}
	atLimit := srv.SignRaw(header(1024), payload(true, 0))
	if h, _, _ := testkit.Segments(t, atLimit); len(h) != 1024 {
		t.Fatalf("header of %d bytes", len(h))
	}
	mustVerify(t, v, atLimit, "a 1 KiB header")
	_, err := v.Verify(ctx, srv.SignRaw(header(1028), payload(true, 0)))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonHeaderTooLarge)

	// Under a known kid, a payload that is not even base64url fails on its signature.
	h, _, s := testkit.Segments(t, srv.User("ann@example.com"))
	_, err = v.Verify(ctx, h+".!!!!."+s)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonSignature)

	// Under an unknown kid inside the cool-down, a recent iat may mean a new key (503),
	// wherever it sits in the payload; without one, the token is refused (401).
	_, err = v.Verify(ctx, forgeWithKid(t, "invented", map[string]any{"iat": 1}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey) // fetches, starts the cool-down
	clk.Advance(time.Second)
	hdr := rs256.Segment(t, map[string]string{"alg": "RS256", "kid": "unknown"})
	now := strconv.FormatInt(clk.Now().Unix(), 10)
	for _, tc := range []struct {
		payload []byte
		code    core.Code
		reason  core.Reason
	}{
		{payload(true, 0), core.CodeUnavailable, core.ReasonUnknownKeyPending},
		{payload(true, 11<<10), core.CodeUnavailable, core.ReasonUnknownKeyPending},
		{payload(false, 400), core.CodeUnavailable, core.ReasonUnknownKeyPending},
		{payload(false, 11<<10), core.CodeUnavailable, core.ReasonUnknownKeyPending},
		{[]byte(`{"x":{"iat":` + now + `},"y":["iat",` + now + `]}`), core.CodeInvalidToken, core.ReasonUnknownKey}, // not a top-level iat
		{[]byte(`{"iat":"` + now + `"}`), core.CodeInvalidToken, core.ReasonUnknownKey},                             // not a number
		{[]byte(`[{"iat":` + now + `}]`), core.CodeInvalidToken, core.ReasonUnknownKey},                             // not an object
		{[]byte(`{"iat":1}`), core.CodeInvalidToken, core.ReasonUnknownKey},                                         // long before the key set
	} {
		_, err := v.Verify(ctx, hdr+"."+b64.EncodeToString(tc.payload)+"."+s)
		testkit.WantCode(t, err, tc.code, tc.reason)
	}
	_, err = v.Verify(ctx, hdr+".!!!!."+s) // not base64url: no iat
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
}

// TestVerifySignatureLengthCap: a signature segment longer than that of a 4096-bit key (512
// bytes) is refused as malformed before the key is even looked up, whatever the kid, and
// so before any RSA work; one of exactly 512 bytes reaches the RSA check, which refuses it.
func TestVerifySignatureLengthCap(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	ctx := context.Background()
	h, p, _ := testkit.Segments(t, srv.User("ann@example.com"))
	sig := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b64.EncodeToString(b)
	}
	_, err := v.Verify(ctx, h+"."+p+"."+sig(512))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonSignature)
	for _, n := range []int{513, 1024, 8 << 10} {
		_, err := v.Verify(ctx, h+"."+p+"."+sig(n))
		testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonMalformed)
	}
	certs := srv.CertsRequests()
	unknown := rs256.Segment(t, map[string]string{"alg": "RS256", "kid": "invented"})
	for _, n := range []int{513, 4 << 10} {
		_, err := v.Verify(ctx, unknown+"."+p+"."+sig(n))
		testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonMalformed)
	}
	if st := v.Stats(); srv.CertsRequests() != certs || st.UnknownKeys != 0 || st.UnknownKeysPending != 0 {
		t.Errorf("oversized signatures under an unknown kid reached the key set: %d fetches, stats %+v", srv.CertsRequests()-certs, st)
	}
}

// TestVerifyTokenType: only application tokens are accepted; an organization token, Access's
// global session, is not one, nor is any other type. Absent is fine (service tokens).
func TestVerifyTokenType(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	checkClaim(t, srv, v, "type", []claimCase{
		{name: "app", value: "app"},
		{name: "absent", omit: true},
		{name: "null", value: nil},
		{name: "org", value: "org", reason: core.ReasonTokenType},
		{name: "App", value: "App", reason: core.ReasonTokenType},
		{name: "app with a space", value: "app ", reason: core.ReasonTokenType},
		{name: "empty", value: ""},
		{name: "number", value: 1, reason: core.ReasonMalformed},
	})
	// A service token of type org is refused too.
	_, err := v.Verify(context.Background(), srv.Mint(accesstest.Token{CommonName: "abc.access", Type: "org"}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonTokenType)
}

// TestCallerTokenID: a caller carries the ID its events give its token, cached or not, and a
// caller made by hand has none.
func TestCallerTokenID(t *testing.T) {
	srv := testkit.NewTeam(t)
	uncached := testkit.Config(srv, nil)
	uncached.Tokens.CacheSize = core.None
	token := srv.User("ann@example.com")
	for name, v := range map[string]*core.Verifier{"cached": testkit.Verifier(t, srv), "uncached": testkit.NewVerifier(t, uncached)} {
		for range 2 { // the second from the cache, where there is one
			c, err := v.Authenticate(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.TokenID(), core.TokenID(token); got != want {
				t.Errorf("%s: TokenID() = %q, want %q", name, got, want)
			}
		}
	}
	if id := core.NewCaller(&core.Claims{}, nil).TokenID(); id != "" {
		t.Errorf("a caller made by hand has TokenID %q", id)
	}
}
