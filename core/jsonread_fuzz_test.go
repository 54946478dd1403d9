package core

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzJSONReader holds the hand-written JSON reader (readObject, through tokenClaims.decode
// and decodeHeader) to encoding/json's reading of the same bytes.
//
// The oracle is encoding/json decoding into map[string]any (numbers as json.Number), with
// keys matched exactly, as JWT claim names are case-sensitive; this is deliberately unlike
// encoding/json's case-insensitive struct field matching, so {"EXP":1} carries no exp. The
// typed claims are then read the way golang-jwt reads them (NumericDate, ClaimStrings).
//
//   - What encoding/json rejects as syntax, the reader rejects.
//   - What the reader accepts, encoding/json accepts, and every field equals the value the
//     map holds under its exact key; for a duplicated key the last one wins in both.
//   - The reader rejects what encoding/json accepts exactly when one of these holds, and
//     never otherwise (intended differences from encoding/json):
//     the top-level value is not an object (encoding/json decodes null into a map);
//     a string holds invalid UTF-8 (encoding/json substitutes U+FFFD);
//     a known claim, in any of its occurrences, has the wrong JSON type: iss, sub, email,
//     type, identity_nonce, country, common_name, alg, kid must be strings or null; aud a
//     string, an array of strings, or null; exp, nbf, iat numbers or null (golang-jwt would
//     also take a number written as a string, "exp":"123"; the reader does not);
//     containers nest deeper than maxJSONDepth below the top-level object;
//     exp, nbf or iat is out of range: beyond float64 or |v| > maxNumericDate.
//
// Lone UTF-16 surrogates in \u escapes become U+FFFD in both.
func FuzzJSONReader(f *testing.F) {
	for _, s := range fzJSONSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tc tokenClaims
		err := tc.decode(data)
		fzCheckAgainstJSON(t, data, fzClaimKinds, err, func(key string, m map[string]any, raw json.RawMessage) {
			fzCheckClaim(t, &tc, key, m, raw)
		})

		h, herr := decodeHeader(base64.RawURLEncoding.EncodeToString(data))
		fzCheckAgainstJSON(t, data, fzHeaderKinds, herr, func(key string, m map[string]any, _ json.RawMessage) {
			switch key {
			case "alg":
				fzCheckString(t, key, h.alg, m)
			case "kid":
				fzCheckString(t, key, h.kid, m)
			case "crit":
				if _, present := m["crit"]; h.crit != present {
					t.Errorf("crit = %v, but the key is present: %v", h.crit, present)
				}
			}
		})

		// The segment as such, not base64url: must fail cleanly or decode.
		_, _ = decodeHeader(string(data))
	})
}

// fzJSONSeeds are realistic Cloudflare payloads and headers, and the corners of the grammar.
func fzJSONSeeds() []string {
	const (
		aud = `"4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"`
		iss = `"https://myteam.cloudflareaccess.com"`
	)
	nest := func(n int, open, close, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	return []string{
		// A user token, as Access mints it.
		`{"aud":[` + aud + `],"email":"ann@example.com","exp":1659474457,"iat":1659474397,` +
			`"nbf":1659474397,"iss":` + iss + `,"type":"app","identity_nonce":"6ei69kawdKzMIAPF",` +
			`"sub":"7335d417-61da-459d-899c-0a01c76a2f94","country":"US"}`,
		// A service token.
		`{"type":"app","aud":[` + aud + `],"exp":1659474457,"iss":` + iss + `,` +
			`"common_name":"ab3f8b4b8fbd1c8ed0e13f76e2f4f9e1.access","iat":1659474397,"sub":""}`,
		// With custom claims from the identity provider.
		`{"aud":` + aud + `,"exp":4102444800,"iss":` + iss + `,"sub":"x","custom":{"groups":["admins","dev"],` +
			`"upn":"ann@corp.example","nested":{"a":[1,2.5,-0,1e3,{"b":null,"c":true,"d":false}]}}}`,
		// Headers.
		`{"alg":"RS256","kid":"5ea7f0c0a6c1a2f0e9bd9c5b8f3f4ac4f06b2a2b1d2f6b5e9c2d0e1f2a3b4c5d","typ":"JWT"}`,
		`{"alg":"none","typ":"JWT"}`,
		`{"alg":"RS256","kid":"k","crit":["exp"]}`,
		`{"alg":"RS256","kid":"k","crit":null}`,
		`{"alg":null,"kid":null}`,
		`{"alg":1}`,
		`{"kid":["a"]}`,
		// Escapes, surrogates, exact-case keys.
		`{"iss":"\u0041\u00e9\u20ac\ud83d\ude00","sub":"\ud800","email":"\udc00\ud800x","type":"\ud800\u0041"}`,
		`{"sub":"\"\\\/\b\f\n\r\t","country":"\u00"}`,
		`{"sub":"\x"}`,
		`{"sub":"a\u000"}`,
		`{"\u0065xp":5,"EXP":6,"Iss":"no"}`,
		`{"sub":"héllo ☃ 😀"}`,
		"{\"sub\":\"\xff\"}",
		"{\"sub\":\"\xed\xa0\x80\"}",
		"{\"x\":\"\xc3\"}",
		"{\"sub\":\"a\x01\"}",
		"{\"sub\":\"\\u00e9\xc3\"}",
		// Whitespace.
		" \t\r\n{ \"iss\" : \"x\" ,\n\"aud\" : [ \"a\" , \"b\" ] } \r\n",
		"{\"iss\":\"x\"}\x0b",
		"\xef\xbb\xbf{}",
		// Numbers.
		`{"exp":1e3,"nbf":-0,"iat":1.5}`,
		`{"exp":1E+2,"nbf":0.0e-0,"iat":-1.5}`,
		`{"exp":1e12,"nbf":-1e12}`,
		`{"exp":1000000000001}`,
		`{"exp":1e400}`,
		`{"exp":1e-400}`,
		`{"x":1e400,"y":-1e999999999}`,
		`{"exp":01}`, `{"exp":-}`, `{"exp":1.}`, `{"exp":.5}`, `{"exp":1e}`, `{"exp":+1}`, `{"exp":0x10}`,
		`{"exp":"1659474457"}`,
		`{"exp":null,"nbf":null,"iat":null}`,
		// aud shapes.
		`{"aud":"a"}`, `{"aud":[]}`, `{"aud":null}`, `{"aud":["a",null]}`, `{"aud":[1]}`, `{"aud":{}}`,
		`{"aud":["a"` + "\t" + `,"b"]}`, `{"aud":["a",]}`, `{"aud":[,"a"]}`,
		// Duplicates: the last one wins.
		`{"exp":1,"exp":2}`, `{"iss":"a","iss":null}`, `{"aud":"a","aud":["b","c"]}`,
		`{"custom":{"a":1},"custom":[2]}`, `{"exp":"x","exp":1}`, `{"custom":1,"custom":null}`,
		// Other values.
		`{"custom":null}`, `{"custom":"s"}`, `{"custom":[]}`, `{"custom":{}}`, `{"custom":true}`,
		`{"x":tru}`, `{"x":nul}`, `{"sub":nullx}`, `{"x":[1 2]}`, `{"x":{"a" 1}}`, `{"x":{1:2}}`,
		// Nesting: maxJSONDepth levels below the top-level object pass, one more does not.
		`{"custom":` + nest(maxJSONDepth, "[", "]", "") + `}`,
		`{"custom":` + nest(maxJSONDepth+1, "[", "]", "") + `}`,
		`{"x":` + nest(maxJSONDepth, `{"a":`, "}", "1") + `}`,
		`{"x":` + nest(maxJSONDepth+1, `{"a":`, "}", "1") + `}`,
		`{"iss":` + nest(maxJSONDepth+1, "[", "]", "") + `}`,
		// Not objects, or not JSON.
		``, `{`, `}`, `{}`, `{} {}`, `[]`, `null`, `"s"`, `1`, `{"a":1,}`, `{"a" 1}`, `{'a':1}`,
		`{"a":1 "b":2}`, `{"a":1,,"b":2}`, `{"a"}`, `{"a":}`, `{"sub":"unterminated`, `{"sub":"a\`,
	}
}

type fzKind uint8

const (
	fzString  fzKind = iota + 1 // a string or null
	fzStrings                   // aud: a string, an array of strings, or null
	fzDate                      // a NumericDate: a number in range, or null
	fzRaw                       // any value, kept verbatim
	fzPresent                   // any value; only its presence counts (crit)
)

var fzClaimKinds = map[string]fzKind{
	"iss": fzString, "sub": fzString, "email": fzString, "type": fzString,
	"identity_nonce": fzString, "country": fzString, "common_name": fzString,
	"aud": fzStrings, "exp": fzDate, "nbf": fzDate, "iat": fzDate, "custom": fzRaw,
}

var fzHeaderKinds = map[string]fzKind{"alg": fzString, "kid": fzString, "crit": fzPresent}

var errFzNotObject = errors.New("not an object")

// fzCheckAgainstJSON applies the properties of FuzzJSONReader to one decode of data
// that returned err; field compares each known key of kinds with the map.
func fzCheckAgainstJSON(t *testing.T, data []byte, kinds map[string]fzKind, err error,
	field func(key string, m map[string]any, raw json.RawMessage)) {
	t.Helper()
	if !json.Valid(data) {
		if err == nil {
			t.Fatalf("accepted what encoding/json rejects as syntax: %q", data)
		}
		return
	}
	members, m, oerr := fzOracle(data)
	if oerr != nil {
		if !errors.Is(oerr, errFzNotObject) {
			t.Fatalf("oracle failed on valid JSON %q: %v", data, oerr)
		}
		if err == nil {
			t.Fatalf("accepted a top-level value that is not an object: %q", data)
		}
		return
	}

	var why []string
	if !utf8.Valid(data) {
		// Outside strings valid JSON is ASCII, so the invalid bytes are in a string.
		why = append(why, "invalid UTF-8 in a string")
	}
	if d := fzDepth(data); d > maxJSONDepth+1 {
		why = append(why, "nesting "+strconv.Itoa(d)+" deep")
	}
	for _, mb := range members {
		if k := kinds[mb.key]; k != 0 {
			if reason := fzTypeProblem(k, mb.raw); reason != "" {
				why = append(why, mb.key+": "+reason)
			}
		}
	}
	switch {
	case err != nil && len(why) == 0:
		t.Fatalf("rejected valid JSON that encoding/json accepts, for no documented reason: %q: %v", data, err)
	case err == nil && len(why) > 0:
		t.Fatalf("accepted %q although %s", data, strings.Join(why, "; "))
	case err != nil:
		return
	}

	last := map[string]json.RawMessage{}
	for _, mb := range members {
		last[mb.key] = mb.raw
	}
	for key, v := range m {
		if raw, ok := last[key]; !ok {
			t.Fatalf("oracle: key %q in the map but not among the members", key)
		} else if k := kinds[key]; k == fzRaw || k == fzStrings {
			var again any
			if err := fzDecode(raw, &again); err != nil || !reflect.DeepEqual(again, v) {
				t.Fatalf("oracle: the last member %q = %s is not the map's %#v", key, raw, v)
			}
		}
	}
	for key := range kinds {
		field(key, m, last[key])
	}
}

type fzMember struct {
	key string
	raw json.RawMessage
}

// fzOracle reads data, valid JSON, with encoding/json: the members of the top-level object in
// order, duplicates included, and the map that json decoding makes of it.
func fzOracle(data []byte) ([]fzMember, map[string]any, error) {
	var top any
	if err := fzDecode(data, &top); err != nil {
		return nil, nil, err
	}
	m, ok := top.(map[string]any)
	if !ok {
		return nil, nil, errFzNotObject
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.Join(errors.New("no opening brace"), err)
	}
	var members []fzMember
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("a key that is not a string")
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, nil, err
		}
		members = append(members, fzMember{key, raw})
	}
	return members, m, nil
}

func fzDecode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// fzTypeProblem tells why raw is not a valid value of kind k, or "".
func fzTypeProblem(k fzKind, raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty value"
	}
	if raw[0] == 'n' {
		return "" // null: absent
	}
	switch k {
	case fzString:
		if raw[0] != '"' {
			return "not a string"
		}
	case fzStrings:
		var v any
		if fzDecode(raw, &v) != nil {
			return "undecodable"
		}
		switch v := v.(type) {
		case string:
		case []any:
			for _, e := range v {
				if _, ok := e.(string); !ok {
					return "an array element that is not a string"
				}
			}
		default:
			return "neither a string nor an array"
		}
	case fzDate:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return "not a number"
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return "beyond float64"
		}
		if math.Abs(f) > maxNumericDate {
			return "beyond maxNumericDate"
		}
	}
	return ""
}

// fzDepth is the deepest nesting of containers in data, valid JSON; the top-level
// object counts 1.
func fzDepth(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

func fzCheckString(t *testing.T, key, got string, m map[string]any) {
	t.Helper()
	want := ""
	switch v := m[key].(type) {
	case nil:
	case string:
		want = v
	default:
		t.Fatalf("%s: accepted a %T", key, v)
	}
	if got != want {
		t.Fatalf("%s = %q, encoding/json reads %q", key, got, want)
	}
}

func fzCheckClaim(t *testing.T, tc *tokenClaims, key string, m map[string]any, raw json.RawMessage) {
	t.Helper()
	switch key {
	case "iss":
		fzCheckString(t, key, tc.iss, m)
	case "sub":
		fzCheckString(t, key, tc.sub, m)
	case "email":
		fzCheckString(t, key, tc.email, m)
	case "type":
		fzCheckString(t, key, tc.typ, m)
	case "identity_nonce":
		fzCheckString(t, key, tc.identityNonce, m)
	case "country":
		fzCheckString(t, key, tc.country, m)
	case "common_name":
		fzCheckString(t, key, tc.commonName, m)
	case "aud":
		// golang-jwt's ClaimStrings: a string is a one-element list; null is absent.
		var want jwt.ClaimStrings
		if raw != nil {
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("aud: accepted %s, which golang-jwt rejects: %v", raw, err)
			}
		}
		if !slices.Equal(tc.aud, want) || (tc.aud == nil) != (m["aud"] == nil) {
			t.Fatalf("aud = %#v, encoding/json reads %#v", tc.aud, m["aud"])
		}
	case "exp":
		fzCheckDate(t, key, tc.exp, m)
	case "nbf":
		fzCheckDate(t, key, tc.nbf, m)
	case "iat":
		fzCheckDate(t, key, tc.iat, m)
	case "custom":
		v, ok := m["custom"]
		if !ok || v == nil {
			if tc.custom != nil {
				t.Fatalf("custom = %s, encoding/json reads it as absent", tc.custom)
			}
			return
		}
		var again any
		if err := fzDecode(tc.custom, &again); err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("custom = %s (%v), which decodes to %#v; encoding/json reads %#v", tc.custom, err, again, v)
		}
		if !bytes.Equal(tc.custom, bytes.TrimSpace(raw)) {
			t.Fatalf("custom = %s, not the value's bytes %s", tc.custom, raw)
		}
	}
}

// fzCheckDate compares a NumericDate with golang-jwt's reading of the number (default
// precision: truncated to the second).
func fzCheckDate(t *testing.T, key string, got *jwt.NumericDate, m map[string]any) {
	t.Helper()
	v, ok := m[key]
	if !ok || v == nil {
		if got != nil {
			t.Fatalf("%s = %v, encoding/json reads it as absent", key, got.Time)
		}
		return
	}
	n, isNum := v.(json.Number)
	if !isNum {
		t.Fatalf("%s: accepted a %T", key, v)
	}
	var want jwt.NumericDate
	if err := want.UnmarshalJSON([]byte(n)); err != nil {
		t.Fatalf("%s: accepted %s, which golang-jwt rejects: %v", key, n, err)
	}
	if got == nil {
		t.Fatalf("%s: absent, encoding/json reads %s", key, n)
	}
	if got.Equal(want.Time) {
		return
	}
	t.Fatalf("%s = %d (%v), golang-jwt reads %s as %d (%v)", key, got.Unix(), got.Time, n, want.Unix(), want.Time)
}
