package token_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cfaccess/cfaccess/internal/token"
)

// FuzzDecodeClaims holds DecodeClaims to a second reader of the same bytes: encoding/json
// into a map, golang-jwt for aud and the dates. On any input it never panics, and returns
// claims or a Malformed error, never both. Claims come only from a valid, UTF-8 JSON object
// that names no member twice, and they are what the second reader finds there: each string
// claim the same string or absent, aud as golang-jwt reads it, each date golang-jwt's (or
// absent), custom the member's bytes.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		`{"aud":["a"],"email":"ann@example.com","exp":4102444800,"iat":1659474397,"nbf":1659474397,` +
			`"iss":"https://team.cloudflareaccess.com","type":"app","identity_nonce":"n","sub":"7335d417","country":"US"}`,
		`{"aud":"a","exp":1.5,"common_name":"x.access","custom":{"groups":["admins"]}}`,
		`{"aud":["a",null],"exp":1}`, `{"aud":[],"custom":null}`, `{"exp":1,"exp":2}`, `{"\u0065xp":1,"exp":2}`,
		`{"ISS":"x"}`, `{"iss":"\ud83d\ude00"}`, "{\"iss\":\"\xff\"}", `{"iat":1e400}`, `null`, `[]`, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := token.DecodeClaims(b)
		if err != nil {
			if c != nil {
				t.Fatalf("claims together with error %v", err)
			}
			wantProblem(t, err, token.Malformed)
			return
		}
		var m map[string]json.RawMessage
		if !utf8.Valid(b) || json.Unmarshal(b, &m) != nil || m == nil {
			t.Fatalf("claims from %q, which is no UTF-8 JSON object", b)
		}
		if n := topLevelNames(t, b); n != len(m) {
			t.Fatalf("claims from %q, which names a member twice", b)
		}
		for name, got := range map[string]string{
			"iss": c.Iss, "sub": c.Sub, "email": c.Email, "type": c.Type,
			"identity_nonce": c.IdentityNonce, "country": c.Country, "common_name": c.CommonName,
		} {
			var want string // null and absent are ""
			if raw, ok := m[name]; ok && json.Unmarshal(raw, &want) != nil {
				t.Fatalf("%s = %q from %s, which is no string", name, got, raw)
			}
			if got != want {
				t.Fatalf("%s = %q, want %q", name, got, want)
			}
		}
		var aud jwt.ClaimStrings
		if raw, ok := m["aud"]; ok && json.Unmarshal(raw, &aud) != nil {
			t.Fatalf("aud %q from %s, which golang-jwt refuses", c.Aud, raw)
		}
		if !slices.Equal(c.Aud, aud) {
			t.Fatalf("aud = %q, golang-jwt reads %q", c.Aud, aud)
		}
		for name, got := range map[string]*jwt.NumericDate{"exp": c.Exp, "nbf": c.Nbf, "iat": c.Iat} {
			raw, ok := m[name]
			if !ok || string(raw) == "null" {
				if got != nil {
					t.Fatalf("%s = %v from %q", name, got, raw)
				}
				continue
			}
			var want jwt.NumericDate
			if json.Unmarshal(raw, &want) != nil || got == nil || !got.Equal(want.Time) {
				t.Fatalf("%s = %v from %s, golang-jwt reads %v", name, got, raw, want.Time)
			}
		}
		if raw, ok := m["custom"]; (ok && string(raw) != "null") != (c.Custom != nil) ||
			(c.Custom != nil && !bytes.Equal(compact(t, c.Custom), compact(t, raw))) {
			t.Fatalf("custom = %s, member %s", c.Custom, raw)
		}
	})
}

// topLevelNames counts the members of the JSON object b, names given twice twice.
func topLevelNames(t *testing.T, b []byte) int {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for d.More() {
		if _, err := d.Token(); err != nil {
			t.Fatal(err)
		}
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func compact(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
