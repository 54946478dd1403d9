package core_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// The fuzz targets of this file cover the untrusted input that core reads: tokens as a whole,
// unsigned and signed, and team domain spellings. (Get-identity documents and identity store
// entries have their own; Cookie headers and Host headers are read in core/adapter and
// internal/hosts.)

var fzB64 = base64.RawURLEncoding

func fzLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// FuzzVerify feeds arbitrary strings to Verifier.Verify. It never panics; it returns claims
// and no error, or no claims and an *Error with a code; and it accepts no token but the valid
// ones minted here: whatever the fuzzer makes of them, no forgery passes.
//
// The tokens are minted anew in every process (each fuzz worker has its own team domain and
// keys), so the valid seeds verify only in the process that minted them; in the workers they
// remain well-formed tokens under an unknown kid. Unknown kids cost at most one key fetch per
// cool-down (10 s).
func FuzzVerify(f *testing.F) {
	srv := testkit.NewTeam(f)
	cfg := srv.Config()
	cfg.Logger = fzLogger()
	v, err := core.NewVerifier(cfg)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()

	valid := []string{
		srv.User("ann@example.com", "admins"),
		srv.ServiceToken(""),
		srv.Mint(accesstest.Token{
			Email:   "bob@example.com",
			Country: "GB",
			Custom:  map[string]any{"groups": []string{"admins", "dev"}, "level": 1.5, "nested": map[string]any{"a": nil}},
		}),
		srv.Mint(accesstest.Token{Email: "eve@example.com", Claims: map[string]any{"aud": srv.AUD}}),
	}
	for _, tok := range valid {
		if _, err := v.Verify(ctx, tok); err != nil {
			f.Fatalf("a valid token does not verify: %v", err)
		}
	}

	kid := srv.KeyIDs()[0]
	h, p, _ := fzSegments(valid[0])
	hour := time.Now().Add(-time.Hour)
	invalid := []string{
		"", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d", " ", "\x00", "é.é.é",
		strings.Repeat("a", core.DefaultMaxTokenSize+1),
		"eyJ" + strings.Repeat("A", core.DefaultMaxTokenSize) + ".e30.",
		// alg none, with and without a signature.
		fzB64.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + p + ".",
		fzB64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + p + ".",
		// HS256 keyed with the public key: the classic algorithm confusion.
		fzHS256Confusion(srv, kid, p),
		// Validly signed, but wrong inside.
		srv.Mint(accesstest.Token{Email: "ann@example.com", ExpiresAt: hour, IssuedAt: hour.Add(-time.Hour)}),
		srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other"}}),
		srv.Mint(accesstest.Token{Email: "ann@example.com", Issuer: srv.URL + "/"}),
		srv.Mint(accesstest.Token{Email: "ann@example.com", Omit: []string{"exp"}}),
		srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: "unpublished"}),
		srv.Mint(accesstest.Token{Email: "ann@example.com", Claims: map[string]any{"aud": []any{srv.AUD, nil}}}),
		srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+kid+`"}`), []byte(`{"exp":1e400}`)),
		srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+kid+`","crit":["b64"]}`), []byte(`{}`)),
		srv.SignRaw([]byte(`{"alg":"RS256"}`), []byte(`{}`)),
		srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+kid+`"}`), []byte("{\"iss\":\"\xff\"}")),
		srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+kid+`"}`), []byte(`not json`)),
		h + "." + p, // no signature segment
		// Padded to the size limit: a header of escapes, a payload under an invented kid.
		fzB64.EncodeToString([]byte(`{"alg":"RS256","kid":"`+kid+`","x":"`+strings.Repeat(`\ud83d\ude00`, 900)+`"}`)) + "." + p + ".",
		fzB64.EncodeToString([]byte(`{"alg":"RS256","kid":"invented"}`)) + "." +
			fzB64.EncodeToString([]byte(`{"x":"`+strings.Repeat(`\ud83d\ude00`, 900)+`","iat":`+fmt.Sprint(time.Now().Unix())+`}`)) + ".",
		fzB64.EncodeToString([]byte(`{"alg":"RS256","kid":"invented"}`)) + "." +
			fzB64.EncodeToString([]byte(`{"iat":`+fmt.Sprint(time.Now().Unix())+`}`)) + ".",
		srv.Mint(accesstest.Token{Email: "ann@example.com", Type: "org"}),
	}
	var seeds []string
	for _, tok := range valid {
		seeds = append(seeds, tok)
		seeds = append(seeds, fzMutations(tok)...)
	}
	for _, tok := range append(seeds, invalid...) {
		f.Add(tok)
	}

	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(ctx, token)
		if err == nil {
			if c == nil {
				t.Fatal("no claims and no error")
			}
			if slices.Contains(valid, token) {
				return
			}
			t.Fatalf("accepted a token that was never minted valid: %q", token)
		}
		if c != nil {
			t.Fatalf("claims %+v together with error %v", c, err)
		}
		fzCheckError(t, err, token)
		if token == "" && !errors.Is(err, core.ErrMissingToken) {
			t.Fatalf("empty token: %v, want missing_token", err)
		}
	})
}

// fzCheckError checks that err is an *Error with a code, matching its sentinel, and that it does
// not repeat the token.
func fzCheckError(t *testing.T, err error, token string) {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) || e.Code == "" {
		t.Fatalf("error %v (%T) is not an *core.Error with a code", err, err)
	}
	sentinel := map[core.Code]error{
		core.CodeMissingToken: core.ErrMissingToken,
		core.CodeInvalidToken: core.ErrInvalidToken,
		core.CodeUnavailable:  core.ErrUnavailable,
	}[e.Code]
	if sentinel == nil || !errors.Is(err, sentinel) {
		t.Fatalf("error %v: code %q has no sentinel of Verify's, or does not match it", err, e.Code)
	}
	if e.Code == core.CodeInvalidToken && e.Reason == "" {
		t.Fatalf("invalid_token without a reason: %v", err)
	}
	if len(token) >= 16 && (strings.Contains(e.Message, token) || strings.Contains(err.Error(), token)) {
		t.Fatalf("the error repeats the token: %v", err)
	}
}

func fzSegments(tok string) (h, p, s string) {
	h, rest, _ := strings.Cut(tok, ".")
	p, s, _ = strings.Cut(rest, ".")
	return h, p, s
}

// fzMutations are near misses of a valid token.
func fzMutations(tok string) []string {
	h, p, s := fzSegments(tok)
	flip := func(seg string, i int) string {
		b := []byte(seg)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	return []string{
		tok[:len(tok)-1],
		tok + "A",
		tok + "=",
		tok + ".",
		" " + tok,
		tok + "\n",
		h + "." + p + "." + flip(s, len(s)-1), // the unused bits of the last character
		h + "." + p + "." + flip(s, 0),
		h + "." + flip(p, len(p)/2) + "." + s,
		flip(h, len(h)/2) + "." + p + "." + s,
		h + "." + p + ".",
		h + ".." + s,
		"." + p + "." + s,
		p + "." + h + "." + s,
		strings.ReplaceAll(tok, "-", "+"),
		h + "=." + p + "." + s,
		strings.ToUpper(tok),
	}
}

func fzHS256Confusion(srv *accesstest.Server, kid, payload string) string {
	der, err := x509.MarshalPKIXPublicKey(srv.PublicKey(kid))
	if err != nil {
		panic(err)
	}
	input := fzB64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+kid+`"}`)) + "." + payload
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte(input))
	return input + "." + fzB64.EncodeToString(mac.Sum(nil))
}

// FuzzVerifySigned signs whatever header and payload the fuzzer makes with the team's current
// key, so that the claim rules and the JSON reader are reached through Verify with a valid
// signature. In the header, $KID stands for the current kid; in the payload, $ISS and $AUD
// for the team domain and the application's AUD.
//
// Property: a token Verify accepts is one encoding/json and golang-jwt accept too. Its header
// names RS256 and the current kid, without crit, in at most 1 KiB; its payload is a JSON
// object whose type is "app" or absent, whose iss is the team domain exactly, whose aud
// names the AUD, whose exp is present and not past, whose nbf and iat (when present) are not
// in the future, all with the 30 s leeway; and the claims handed out carry those values and
// the payload itself.
//
// Each execution makes an RSA signature, so this target is slow (hundreds per second).
func FuzzVerifySigned(f *testing.F) {
	srv := testkit.NewTeam(f)
	now := time.Now().Truncate(time.Second)
	cfg := srv.Config()
	cfg.Logger = fzLogger()
	cfg.Now = func() time.Time { return now }
	v, err := core.NewVerifier(cfg)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	kid := srv.KeyIDs()[0]
	const leeway = core.DefaultLeeway

	header := `{"alg":"RS256","kid":"$KID","typ":"JWT"}`
	for _, p := range []string{
		`{"aud":["$AUD"],"email":"ann@example.com","exp":4102444800,"iat":1659474397,"nbf":1659474397,` +
			`"iss":"$ISS","type":"app","identity_nonce":"6ei69kawdKzMIAPF","sub":"7335d417","country":"US"}`,
		`{"type":"app","aud":["$AUD"],"exp":4102444800,"iss":"$ISS","common_name":"ab3f.access","iat":1659474397,"sub":""}`,
		`{"aud":"$AUD","exp":4102444800.5,"iss":"$ISS","custom":{"groups":["admins"],"n":[1,{"x":null}]}}`,
		`{"aud":["other","$AUD"],"exp":4102444800,"iss":"$ISS","exp":1}`,
		`{"aud":["$AUD"],"exp":4102444800,"iss":"$ISS","nbf":4102444800}`,
		`{"aud":["$AUD"],"exp":4102444800,"iss":"$ISS","iat":4102444800}`,
		`{"aud":["$AUD"],"exp":4102444800,"iss":"$ISS/"}`,
		`{"aud":["$AUD"],"exp":4102444800,"ISS":"$ISS"}`,
		`{"aud":["$AUD",null],"exp":4102444800,"iss":"$ISS"}`,
		`{"aud":["$AUD"],"exp":null,"iss":"$ISS"}`,
		`{"aud":["$AUD"],"exp":"4102444800","iss":"$ISS"}`,
		`{"aud":["$AUD"],"exp":4102444800,"iss":"\u0024ISS"}`,
		`{"aud":[],"exp":4102444800,"iss":"$ISS"}`,
	} {
		f.Add(header, []byte(p))
	}
	f.Add(`{"alg":"RS256","kid":"$KID","crit":["exp"]}`, []byte(`{"aud":"$AUD","exp":4102444800,"iss":"$ISS"}`))
	f.Add(`{"alg":"RS256","kid":"$KID","alg":"none"}`, []byte(`{"aud":"$AUD","exp":4102444800,"iss":"$ISS"}`))
	f.Add(`{"alg":"rs256","kid":"$KID"}`, []byte(`{"aud":"$AUD","exp":4102444800,"iss":"$ISS"}`))
	f.Add(`{"ALG":"none","alg":"RS256","kid":"$KID"}`, []byte(`{"aud":"$AUD","exp":4102444800,"iss":"$ISS"}`))
	f.Add(`{"alg":"RS256","kid":"$KID"}`, []byte(`{"aud":"$AUD","exp":4102444800,"iss":"$ISS","type":"org"}`))
	for _, n := range []int{670, 680} { // about the 1 KiB bound, encoded, either side
		f.Add(`{"alg":"RS256","kid":"$KID","x":"`+strings.Repeat("x", n)+`"}`, []byte(`{"aud":"$AUD","exp":4102444800,"iss":"$ISS"}`))
	}

	f.Fuzz(func(t *testing.T, header string, payload []byte) {
		hdr := []byte(strings.ReplaceAll(header, "$KID", kid))
		payload = bytes.ReplaceAll(payload, []byte("$ISS"), []byte(srv.URL))
		payload = bytes.ReplaceAll(payload, []byte("$AUD"), []byte(srv.AUD))
		token := srv.SignRaw(hdr, payload)
		c, err := v.Verify(ctx, token)
		if err != nil {
			if c != nil {
				t.Fatalf("claims together with error %v", err)
			}
			fzCheckError(t, err, token)
			return
		}

		var h map[string]any
		if err := json.Unmarshal(hdr, &h); err != nil {
			t.Fatalf("accepted a header encoding/json rejects: %v", err)
		}
		if _, crit := h["crit"]; h["alg"] != "RS256" || h["kid"] != kid || crit || len(fzB64.EncodeToString(hdr)) > 1024 {
			t.Fatalf("accepted header %s", hdr)
		}

		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(payload))
		d.UseNumber()
		if err := d.Decode(&m); err != nil || !json.Valid(payload) {
			t.Fatalf("accepted a payload encoding/json rejects: %v", err)
		}
		str := func(k string) string {
			s, ok := m[k].(string)
			if !ok && m[k] != nil {
				t.Fatalf("accepted %s of type %T", k, m[k])
			}
			return s
		}
		var aud jwt.ClaimStrings
		if raw, err := json.Marshal(m["aud"]); err != nil || json.Unmarshal(raw, &aud) != nil {
			t.Fatalf("accepted aud %#v, which golang-jwt rejects", m["aud"])
		}
		date := func(k string) *jwt.NumericDate {
			if m[k] == nil {
				return nil
			}
			n, ok := m[k].(json.Number)
			var nd jwt.NumericDate
			if !ok || nd.UnmarshalJSON([]byte(n)) != nil {
				t.Fatalf("accepted %s %#v, which golang-jwt rejects", k, m[k])
			}
			return &nd
		}
		exp, nbf, iat := date("exp"), date("nbf"), date("iat")
		switch {
		case str("type") != "" && str("type") != "app":
			t.Fatalf("accepted type %q", m["type"])
		case str("iss") != srv.URL:
			t.Fatalf("accepted iss %q", m["iss"])
		case !slices.Contains(aud, srv.AUD):
			t.Fatalf("accepted aud %#v", m["aud"])
		case exp == nil || !now.Before(exp.Add(leeway)):
			t.Fatalf("accepted exp %#v at %d", m["exp"], now.Unix())
		case nbf != nil && now.Add(leeway).Before(nbf.Time):
			t.Fatalf("accepted nbf %#v at %d", m["nbf"], now.Unix())
		case iat != nil && now.Add(leeway).Before(iat.Time):
			t.Fatalf("accepted iat %#v at %d", m["iat"], now.Unix())
		}

		if c.Issuer != str("iss") || c.Subject != str("sub") || c.Email != str("email") ||
			c.Type != str("type") || c.IdentityNonce != str("identity_nonce") ||
			c.Country != str("country") || c.CommonName != str("common_name") {
			t.Fatalf("claims %+v differ from the payload %s", c, payload)
		}
		if !slices.Equal(c.Audience, aud) || !c.ExpiresAt.Equal(exp.Time) {
			t.Fatalf("claims aud %q exp %v, payload aud %q exp %v", c.Audience, c.ExpiresAt, aud, exp.Time)
		}
		if !bytes.Equal(c.Raw, payload) {
			t.Fatalf("claims.Raw = %q, payload %q", c.Raw, payload)
		}
	})
}

// FuzzParseTeamDomain checks ParseTeamDomain on any string: it never panics; a failure wraps
// ErrConfig; a success is a bare origin (https, or http for a loopback host only; lower case;
// no trailing slash, path, query, fragment or user information; a port only for loopback),
// and parsing it again gives it back unchanged.
func FuzzParseTeamDomain(f *testing.F) {
	for _, s := range []string{
		"myteam", "MyTeam", " myteam\n", "my-team", "-myteam", "myteam-", "my_team", strings.Repeat("a", 63),
		strings.Repeat("a", 64), "myteam.cloudflareaccess.com", "MYTEAM.CLOUDFLAREACCESS.COM",
		"myteam.fed.cloudflareaccess.com", "fed.cloudflareaccess.com", ".cloudflareaccess.com",
		"a.b.cloudflareaccess.com", "myteam.cloudflareaccess.com/", "myteam.cloudflareaccess.com:443",
		"https://myteam.cloudflareaccess.com", "https://myteam.cloudflareaccess.com/",
		"HTTPS://MyTeam.CloudflareAccess.com", "https://myteam.cloudflareaccess.com:443",
		"https://myteam.cloudflareaccess.com/path", "https://myteam.cloudflareaccess.com?x=1",
		"https://myteam.cloudflareaccess.com?", "https://myteam.cloudflareaccess.com#frag",
		"https://myteam.cloudflareaccess.com#", "https://user:pw@myteam.cloudflareaccess.com",
		"https://myteam.cloudflareaccess.com.", "https://a..b", "https://", "https:///x", "https:x",
		"http://myteam.cloudflareaccess.com", "ftp://myteam.cloudflareaccess.com", "://x",
		"http://127.0.0.1:8787", "http://127.0.0.1", "http://127.0.0.1:", "http://127.0.0.1:0",
		"http://127.0.0.1:65536", "http://127.0.0.1:0080", "http://localhost:1", "http://LOCALHOST",
		"http://[::1]:8080", "http://[::1]", "http://[::ffff:127.0.0.1]", "http://[::1%25lo]:80",
		"http://127.1", "http://0x7f.0.0.1", "https://[2001:db8::1]", "https://1.2.3.4",
		"https://%41.example.com", "https://xn--bcher-kva.example", "https://bücher.example",
		"\u212ateam", "https://\u212a.example.com", "https://a.example.com\u00a0", "", " ", "\t",
		"https://" + strings.Repeat("a.", 130) + "com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := core.ParseTeamDomain(s)
		if err != nil {
			if !errors.Is(err, core.ErrConfig) {
				t.Fatalf("ParseTeamDomain(%q): error %v does not wrap ErrConfig", s, err)
			}
			if got != "" {
				t.Fatalf("ParseTeamDomain(%q) = %q together with error %v", s, got, err)
			}
			return
		}
		u, perr := url.Parse(got)
		if perr != nil {
			t.Fatalf("ParseTeamDomain(%q) = %q, which is not a URL: %v", s, got, perr)
		}
		host := u.Hostname()
		loopback := host == "localhost" || net.ParseIP(host).IsLoopback()
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && loopback:
		default:
			t.Fatalf("ParseTeamDomain(%q) = %q: neither https nor http to a loopback host", s, got)
		}
		switch {
		case got != u.Scheme+"://"+u.Host,
			u.User != nil, u.Opaque != "", u.Path != "", u.RawPath != "", u.RawQuery != "",
			u.ForceQuery, u.Fragment != "", strings.HasSuffix(got, "/"):
			t.Fatalf("ParseTeamDomain(%q) = %q, which is not a bare origin", s, got)
		case host == "":
			t.Fatalf("ParseTeamDomain(%q) = %q, which has no host", s, got)
		case u.Port() != "" && !loopback:
			t.Fatalf("ParseTeamDomain(%q) = %q: a port on a host that is not loopback", s, got)
		case strings.ToLower(got) != got:
			t.Fatalf("ParseTeamDomain(%q) = %q, which is not lower case", s, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] >= 0x7f {
				t.Fatalf("ParseTeamDomain(%q) = %q, with a byte %#x that is not printable ASCII", s, got, got[i])
			}
		}
		again, err := core.ParseTeamDomain(got)
		if err != nil || again != got {
			t.Fatalf("ParseTeamDomain(%q) = %q, but ParseTeamDomain(%q) = %q, %v", s, got, got, again, err)
		}
	})
}
