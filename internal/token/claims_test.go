package token_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cfaccess/cfaccess/internal/token"
)

func TestDecodeClaims(t *testing.T) {
	c, err := token.DecodeClaims([]byte(`{"iss":"https://team.cloudflareaccess.com","sub":"u-1","aud":["a","b"],
		"exp":1700003600,"nbf":1700000000.75,"iat":1700000000,"email":"ann@example.com","type":"app",
		"identity_nonce":"n","country":"GB","common_name":"","custom":{"groups":["admins"]},"extra":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := token.Claims{Iss: "https://team.cloudflareaccess.com", Sub: "u-1", Aud: []string{"a", "b"},
		Email: "ann@example.com", Type: "app", IdentityNonce: "n", Country: "GB"}
	if c.Iss != want.Iss || c.Sub != want.Sub || !slices.Equal(c.Aud, want.Aud) || c.Email != want.Email ||
		c.Type != want.Type || c.IdentityNonce != want.IdentityNonce || c.Country != want.Country || c.CommonName != "" {
		t.Errorf("claims %+v", c)
	}
	if string(c.Custom) != `{"groups":["admins"]}` {
		t.Errorf("custom %s", c.Custom)
	}
	for name, got := range map[string]time.Time{"exp": token.Time(c.Exp), "nbf": token.Time(c.Nbf), "iat": token.Time(c.Iat)} {
		w := map[string]int64{"exp": 1700003600, "nbf": 1700000000, "iat": 1700000000}[name]
		if !got.Equal(time.Unix(w, 0)) {
			t.Errorf("%s = %v, want %d (fractions rounded down)", name, got, w)
		}
	}
	if !token.Time(nil).IsZero() {
		t.Error("Time(nil) is not zero")
	}
}

// TestDecodeClaimsExactNames: claim names are case-sensitive, where encoding/json's struct
// fields are not: "ISS" is some other claim, and the token has no iss.
func TestDecodeClaimsExactNames(t *testing.T) {
	c, err := token.DecodeClaims([]byte(`{"ISS":"https://evil.example","Aud":"x","EXP":4102444800,"Email":"eve@example.com",
		"Type":"org","\u0069ss":"escaped names are the same name"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Iss != "escaped names are the same name" || c.Aud != nil || c.Exp != nil || c.Email != "" || c.Type != "" {
		t.Errorf("claims %+v", c)
	}
}

func TestDecodeClaimsAudience(t *testing.T) {
	for _, tc := range []struct {
		json string
		want []string
	}{
		{`{"aud":"a"}`, []string{"a"}},
		{`{"aud":["a"]}`, []string{"a"}},
		{`{"aud":["a","b"]}`, []string{"a", "b"}},
		{`{"aud":[]}`, nil},
		{`{"aud":null}`, nil},
		{`{}`, nil},
	} {
		c, err := token.DecodeClaims([]byte(tc.json))
		if err != nil || !slices.Equal(c.Aud, tc.want) {
			t.Errorf("%s: aud %q, %v; want %q", tc.json, c.Aud, err, tc.want)
		}
	}
}

// TestDecodeClaimsRefuses: a payload that is no JSON object, or a claim of the wrong type or
// out of range, is Malformed, with the claim named.
func TestDecodeClaimsRefuses(t *testing.T) {
	for _, tc := range []struct{ json, claim string }{
		{`not json`, ""},
		{``, ""},
		{`null`, ""},
		{`[]`, ""},
		{`"iss"`, ""},
		{`1`, ""},
		{`{"iss":"a"} {}`, ""},
		{`{"exp":1,"exp":4102444800}`, ""}, // a name given twice: which one counts depends on the reader
		{`{"email":"eve@example.com","\u0065mail":"ann@example.com"}`, ""},
		{"{\"email\":\"ann@example.com\xff\"}", ""}, // not UTF-8: Claims.Raw would differ from the claims
		{"{\"iss\":\"a\"", ""},
		{`{"aud":["a",null]}`, "aud"},
		{`{"aud":[null]}`, "aud"},
		{`{"aud":["a",1]}`, "aud"},
		{`{"aud":1}`, "aud"},
		{`{"aud":{"a":"b"}}`, "aud"},
		{`{"aud":true}`, "aud"},
		{`{"iss":1}`, "iss"},
		{`{"sub":["u"]}`, "sub"},
		{`{"email":{"a":1}}`, "email"},
		{`{"type":true}`, "type"},
		{`{"identity_nonce":1}`, "identity_nonce"},
		{`{"country":1}`, "country"},
		{`{"common_name":[]}`, "common_name"},
		{`{"exp":"1700000000"}`, "exp"},
		{`{"exp":true}`, "exp"},
		{`{"exp":[1]}`, "exp"},
		{`{"exp":1e13}`, "exp"},
		{`{"exp":1000000000001}`, "exp"},
		{`{"nbf":-1e13}`, "nbf"},
		{`{"iat":1e400}`, "iat"},
		{`{"iat":{}}`, "iat"},
	} {
		c, err := token.DecodeClaims([]byte(tc.json))
		if c != nil {
			t.Errorf("%s: claims %+v", tc.json, c)
		}
		wantProblem(t, err, token.Malformed)
		if tc.claim != "" && !strings.Contains(err.Error(), tc.claim+":") {
			t.Errorf("%s: %v does not name %s", tc.json, err, tc.claim)
		}
	}
}

func TestDecodeClaimsRange(t *testing.T) {
	for _, tc := range []struct {
		json string
		want time.Time
		none bool
	}{
		{`{"exp":1e12}`, time.Unix(1e12, 0), false},
		{`{"exp":-1e12}`, time.Unix(-1e12, 0), false},
		{`{"exp":0}`, time.Unix(0, 0), false},
		{`{"exp":1e-400}`, time.Unix(0, 0), false},
		{`{"exp":null}`, time.Time{}, true},
	} {
		c, err := token.DecodeClaims([]byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if (c.Exp == nil) != tc.none || !token.Time(c.Exp).Equal(tc.want) {
			t.Errorf("%s: exp %v", tc.json, c.Exp)
		}
	}
	// custom null is no custom claim.
	if c, err := token.DecodeClaims([]byte(`{"custom":null}`)); err != nil || c.Custom != nil {
		t.Errorf("custom null: %s, %v", c.Custom, err)
	}
}

func TestValidator(t *testing.T) {
	now := time.Unix(1700000000, 0)
	const iss = "https://team.cloudflareaccess.com"
	v := token.NewValidator(token.Rules{Issuer: iss, Audiences: []string{"aud-1", "aud-2"}, Leeway: 30 * time.Second,
		Now: func() time.Time { return now }})
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	valid := func() *token.Claims {
		return &token.Claims{Iss: iss, Aud: []string{"other", "aud-2"}, Exp: at(time.Hour), Nbf: at(0), Iat: at(0), Type: "app"}
	}
	for _, tc := range []struct {
		name    string
		edit    func(c *token.Claims)
		problem token.Problem // 0: valid
	}{
		{"valid", func(*token.Claims) {}, 0},
		{"no type", func(c *token.Claims) { c.Type = "" }, 0},
		{"no nbf or iat", func(c *token.Claims) { c.Nbf, c.Iat = nil, nil }, 0},
		{"expired within the leeway", func(c *token.Claims) { c.Exp = at(-29 * time.Second) }, 0},
		{"nbf within the leeway", func(c *token.Claims) { c.Nbf = at(29 * time.Second) }, 0},
		{"iat within the leeway", func(c *token.Claims) { c.Iat = at(29 * time.Second) }, 0},
		{"no exp", func(c *token.Claims) { c.Exp = nil }, token.MissingClaim},
		{"no iss", func(c *token.Claims) { c.Iss = "" }, token.MissingClaim},
		{"no aud", func(c *token.Claims) { c.Aud = nil }, token.MissingClaim},
		{"empty aud", func(c *token.Claims) { c.Aud = []string{""} }, token.MissingClaim},
		{"iss with a slash", func(c *token.Claims) { c.Iss = iss + "/" }, token.Issuer},
		{"iss of another team", func(c *token.Claims) { c.Iss = "https://other.cloudflareaccess.com" }, token.Issuer},
		{"aud of another application", func(c *token.Claims) { c.Aud = []string{"aud-3"} }, token.Audience},
		{"aud in another case", func(c *token.Claims) { c.Aud = []string{"AUD-1"} }, token.Audience},
		{"expired", func(c *token.Claims) { c.Exp = at(-31 * time.Second) }, token.Expired},
		{"not yet valid", func(c *token.Claims) { c.Nbf = at(31 * time.Second) }, token.NotYetValid},
		{"issued in the future", func(c *token.Claims) { c.Iat = at(31 * time.Second) }, token.IssuedInFuture},
		{"organization token", func(c *token.Claims) { c.Type = "org" }, token.Type},
		{"type in another case", func(c *token.Claims) { c.Type = "App" }, token.Type},
		// The most telling problem is reported: another application's token, even expired.
		{"another application's expired token", func(c *token.Claims) {
			c.Aud, c.Exp = []string{"aud-3"}, at(-time.Hour)
		}, token.Audience},
		{"another team's expired token", func(c *token.Claims) { c.Iss, c.Exp = "https://x.example", at(-time.Hour) }, token.Issuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(c)
			err := v.Validate(c)
			if tc.problem == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantProblem(t, err, tc.problem)
		})
	}

	// No leeway: a second past exp is expired.
	strict := token.NewValidator(token.Rules{Issuer: iss, Audiences: []string{"aud-1"}, Now: func() time.Time { return now }})
	c := valid()
	c.Aud, c.Exp = []string{"aud-1"}, at(-time.Second)
	wantProblem(t, strict.Validate(c), token.Expired)
}
