package token_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/testkit"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
	"github.com/cfaccess/cfaccess/internal/token"
)

var b64 = base64.RawURLEncoding

// sign makes a token of the JSON header and payload, signed with the first test key.
func sign(t testing.TB, header, payload string) string {
	t.Helper()
	return rs256.Sign(t, rs256.Key(t, 0), b64.EncodeToString([]byte(header)), b64.EncodeToString([]byte(payload)))
}

// wantProblem fails the test unless err is a *token.Error of problem p.
func wantProblem(t testing.TB, err error, p token.Problem) {
	t.Helper()
	var te *token.Error
	switch {
	case err == nil:
		t.Fatalf("no error, want problem %d", p)
	case !errors.As(err, &te):
		t.Fatalf("error %v (%T) is not a *token.Error", err, err)
	case te.Problem != p:
		t.Fatalf("problem %d (%v), want %d", te.Problem, err, p)
	case te.Msg == "":
		t.Fatalf("error %v has no message", err)
	}
}

const header = `{"alg":"RS256","kid":"k1","typ":"JWT"}`

func TestParseAndVerify(t *testing.T) {
	one, two := rs256.Key(t, 0), rs256.Key(t, 1)
	const payload = `{"iss":"https://team.cloudflareaccess.com","exp":4102444800}`
	tok := sign(t, header, payload)
	var p token.Parsed
	if err := p.Parse(tok); err != nil {
		t.Fatal(err)
	}
	if p.KID != "k1" {
		t.Errorf("KID = %q", p.KID)
	}
	got, err := p.Verify(&one.PublicKey)
	if err != nil || string(got) != payload {
		t.Fatalf("Verify = %q, %v", got, err)
	}
	_, err = p.Verify(&two.PublicKey)
	wantProblem(t, err, token.Signature)

	// The payload is signed: a change anywhere in it fails the signature.
	h, _, s := testkit.Segments(t, tok)
	forged := h + "." + b64.EncodeToString([]byte(strings.Replace(payload, "4102444800", "4102444801", 1))) + "." + s
	if err := p.Parse(forged); err != nil {
		t.Fatal(err)
	}
	_, err = p.Verify(&one.PublicKey)
	wantProblem(t, err, token.Signature)

	// A Parsed is reused: a shorter signature after a longer one is read at its own length.
	k3072, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	long := rs256.Sign(t, k3072, b64.EncodeToString([]byte(header)), b64.EncodeToString([]byte(payload)))
	if err := p.Parse(long); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(&k3072.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(&one.PublicKey); err != nil {
		t.Fatalf("after a longer signature: %v", err)
	}
}

// TestVerifyPayloadNotBase64: the signature covers the payload segment as it is, so a
// payload that is not base64url can be signed; it is refused after the signature.
func TestVerifyPayloadNotBase64(t *testing.T) {
	one := rs256.Key(t, 0)
	for _, seg := range []string{"e30=", "!!!!", "e3 0", "e30\t"} {
		tok := rs256.Sign(t, one, b64.EncodeToString([]byte(header)), seg)
		var p token.Parsed
		if err := p.Parse(tok); err != nil {
			t.Fatalf("%q: %v", seg, err)
		}
		payload, err := p.Verify(&one.PublicKey)
		if payload != nil {
			t.Errorf("%q: payload %q", seg, payload)
		}
		wantProblem(t, err, token.Malformed)
	}
}

func TestParseRefuses(t *testing.T) {
	valid := sign(t, header, `{}`)
	h, p, s := testkit.Segments(t, valid)
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	hs256 := func(hdr string) string {
		m := hmac.New(sha256.New, []byte("public key bytes"))
		m.Write([]byte(enc(hdr) + "." + p))
		return enc(hdr) + "." + p + "." + b64.EncodeToString(m.Sum(nil))
	}
	for _, tc := range []struct {
		name    string
		tok     string
		problem token.Problem
	}{
		{"empty", "", token.Malformed},
		{"one segment", h, token.Malformed},
		{"two segments", h + "." + p, token.Malformed},
		{"four segments", valid + ".x", token.Malformed},
		{"header not base64url", "!" + h[1:] + "." + p + "." + s, token.Malformed},
		{"header padded", enc(header+" ") + "=." + p + "." + s, token.Malformed},
		{"header in standard base64", "eyJhbGciOiJSUzI1NiIsImtpZCI6Ims/PiJ9" + "." + p + "." + s, token.Malformed}, // {"alg":"RS256","kid":"k?>"}
		{"header not JSON", enc(`alg=RS256`) + "." + p + "." + s, token.Malformed},
		{"header null", enc(`null`) + "." + p + "." + s, token.Malformed},
		{"header an array", enc(`["RS256"]`) + "." + p + "." + s, token.Malformed},
		{"alg of the wrong type", enc(`{"alg":256,"kid":"k1"}`) + "." + p + "." + s, token.Malformed},
		{"kid of the wrong type", enc(`{"alg":"RS256","kid":1}`) + "." + p + "." + s, token.Malformed},
		{"alg none", enc(`{"alg":"none","kid":"k1"}`) + "." + p + ".", token.Algorithm},
		{"alg none, no kid", enc(`{"alg":"none"}`) + "." + p + ".", token.Algorithm},
		{"HS256", hs256(`{"alg":"HS256","kid":"k1"}`), token.Algorithm},
		{"RS384", enc(`{"alg":"RS384","kid":"k1"}`) + "." + p + "." + s, token.Algorithm},
		{"alg in lower case", enc(`{"alg":"rs256","kid":"k1"}`) + "." + p + "." + s, token.Algorithm},
		{"alg under another spelling of the name", enc(`{"ALG":"RS256","kid":"k1"}`) + "." + p + "." + s, token.Algorithm},
		{"alg null", enc(`{"alg":null,"kid":"k1"}`) + "." + p + "." + s, token.Algorithm},
		{"crit", enc(`{"alg":"RS256","kid":"k1","crit":["b64"]}`) + "." + p + "." + s, token.Critical},
		{"crit empty", enc(`{"alg":"RS256","kid":"k1","crit":[]}`) + "." + p + "." + s, token.Critical},
		{"crit null", enc(`{"alg":"RS256","kid":"k1","crit":null}`) + "." + p + "." + s, token.Critical},
		{"no kid", enc(`{"alg":"RS256"}`) + "." + p + "." + s, token.NoKeyID},
		{"empty kid", enc(`{"alg":"RS256","kid":""}`) + "." + p + "." + s, token.NoKeyID},
		{"kid under another spelling of the name", enc(`{"alg":"RS256","KID":"k1"}`) + "." + p + "." + s, token.NoKeyID},
		// One header, one reading: a reader that took the first alg would see another token.
		{"alg given twice", enc(`{"alg":"none","kid":"k1","alg":"RS256"}`) + "." + p + "." + s, token.Malformed},
		{"kid given twice, the second escaped", enc(`{"alg":"RS256","kid":"k0","\u006bid":"k1"}`) + "." + p + "." + s, token.Malformed},
		{"signature not base64url", h + "." + p + "." + s[:len(s)-1] + "+", token.Malformed},
		{"signature padded", h + "." + p + "." + s + "==", token.Malformed},
		// Go's decoder skips CR and LF even in strict mode: without a check of its own, one
		// token would have endless spellings.
		{"LF in the signature", h + "." + p + "." + s[:10] + "\n" + s[10:], token.Malformed},
		{"CR in the signature", h + "." + p + "." + s[:10] + "\r" + s[10:], token.Malformed},
		{"CRLF after the signature", valid + "\r\n", token.Malformed},
		{"LF in the header", h[:5] + "\n" + h[5:] + "." + p + "." + s, token.Malformed},
		{"LF in the payload", h + "." + p[:1] + "\n" + p[1:] + "." + s, token.Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parsed token.Parsed
			wantProblem(t, parsed.Parse(tc.tok), tc.problem)
		})
	}
}

// TestParseNonCanonicalSignature: a signature whose last character carries stray bits decodes
// to the same bytes under a lenient decoder; it is refused, so that one token has one
// spelling.
func TestParseNonCanonicalSignature(t *testing.T) {
	tok := sign(t, header, `{}`)
	h, p, s := testkit.Segments(t, tok)
	// 256 bytes encode to 342 characters, the last of which carries 4 bits of padding.
	last := strings.IndexByte(base64URLAlphabet, s[len(s)-1])
	stray := s[:len(s)-1] + string(base64URLAlphabet[last|1])
	if stray == s {
		stray = s[:len(s)-1] + string(base64URLAlphabet[last&^1])
	}
	lenient, err1 := b64.DecodeString(stray)
	strict, err2 := b64.DecodeString(s)
	if err1 != nil || err2 != nil || string(lenient) != string(strict) {
		t.Fatalf("the lenient decoder does not take %q for the same signature: %v %v", stray, err1, err2)
	}
	var parsed token.Parsed
	wantProblem(t, parsed.Parse(h+"."+p+"."+stray), token.Malformed)
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestParseHeaderBound: a header segment over MaxHeaderSize is refused for its size alone,
// before it is decoded: one of that size that would not even decode still gets
// HeaderTooLarge. One of exactly MaxHeaderSize is read.
func TestParseHeaderBound(t *testing.T) {
	_, p, s := testkit.Segments(t, sign(t, header, `{}`))
	var parsed token.Parsed
	garbage := strings.Repeat("!", token.MaxHeaderSize+1)
	wantProblem(t, parsed.Parse(garbage+"."+p+"."+s), token.HeaderTooLarge)

	// Pad a real header to exactly MaxHeaderSize encoded bytes (a multiple of 4 of them
	// encodes a multiple of 3 bytes, with no partial group).
	base := `{"alg":"RS256","kid":"k1","x":""}`
	n := token.MaxHeaderSize*3/4 - len(base)
	exact := `{"alg":"RS256","kid":"k1","x":"` + strings.Repeat("a", n) + `"}`
	h := b64.EncodeToString([]byte(exact))
	if len(h) != token.MaxHeaderSize {
		t.Fatalf("header of %d bytes", len(h))
	}
	if err := parsed.Parse(h + "." + p + "." + s); err != nil {
		t.Fatalf("a header of MaxHeaderSize: %v", err)
	}
	over := b64.EncodeToString([]byte(`{"alg":"RS256","kid":"k1","x":"` + strings.Repeat("a", n+1) + `"}`))
	wantProblem(t, parsed.Parse(over+"."+p+"."+s), token.HeaderTooLarge)
}

// TestParseSignatureBound: a signature longer than MaxSignatureSize (a 4096-bit key's) is
// refused by Parse, before any RSA: the answer is the same whether or not it would decode.
// One of exactly MaxSignatureSize is read.
func TestParseSignatureBound(t *testing.T) {
	h, p, _ := testkit.Segments(t, sign(t, header, `{}`))
	var parsed token.Parsed
	for _, s := range []string{
		b64.EncodeToString(make([]byte, token.MaxSignatureSize+1)),
		strings.Repeat("!", b64.EncodedLen(token.MaxSignatureSize)+1),
		strings.Repeat("A", 1<<20),
	} {
		err := parsed.Parse(h + "." + p + "." + s)
		wantProblem(t, err, token.Malformed)
		if !strings.Contains(err.Error(), "too long") {
			t.Errorf("signature of %d characters: %v", len(s), err)
		}
	}
	if err := parsed.Parse(h + "." + p + "." + b64.EncodeToString(make([]byte, token.MaxSignatureSize))); err != nil {
		t.Fatalf("a signature of MaxSignatureSize: %v", err)
	}
	// It decodes, and fails only at the RSA check.
	one := rs256.Key(t, 0)
	_, err := parsed.Verify(&one.PublicKey)
	wantProblem(t, err, token.Signature)
}

func TestIssuedAt(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    int64 // Unix seconds; 0 for none
	}{
		{`{"iat":1700000000}`, 1700000000},
		{`{"iat":1700000000.9}`, 1700000000},
		{` { "sub" : "x" , "iat" : 1700000000 } `, 1700000000},
		{`{"custom":{"iat":1},"iat":1700000000}`, 1700000000},
		{`{"a":["iat",{"iat":1}],"iat":1700000000}`, 1700000000},
		{`{"x":"\"iat\":1","iat":1700000000}`, 1700000000},
		{`{"iat":1e12}`, 1e12},
		{`{"iat":1e13}`, 0},
		{`{"iat":-1e13}`, 0},
		{`{"iat":1e400}`, 0},
		{`{"iat":"1700000000"}`, 0},
		{`{"iat":null}`, 0},
		{`{"IAT":1700000000}`, 0},
		{`{"\u0069at":1700000000}`, 0},
		{`{"custom":{"iat":1700000000}}`, 0},
		{`{}`, 0},
		{`[{"iat":1700000000}]`, 0},
		{`not json`, 0},
	} {
		tok := rs256.Sign(t, rs256.Key(t, 0), b64.EncodeToString([]byte(header)), b64.EncodeToString([]byte(tc.payload)))
		var p token.Parsed
		if err := p.Parse(tok); err != nil {
			t.Fatal(err)
		}
		got := p.IssuedAt()
		if tc.want == 0 && !got.IsZero() || tc.want != 0 && !got.Equal(time.Unix(tc.want, 0)) {
			t.Errorf("IssuedAt(%s) = %v, want %d", tc.payload, got, tc.want)
		}
	}
	// A payload segment that is not base64url has no iat.
	var p token.Parsed
	if err := p.Parse(b64.EncodeToString([]byte(header)) + ".e30=." + b64.EncodeToString(make([]byte, 256))); err != nil {
		t.Fatal(err)
	}
	if got := p.IssuedAt(); !got.IsZero() {
		t.Errorf("IssuedAt of a padded payload = %v", got)
	}
}

func TestErrorMessage(t *testing.T) {
	cause := errors.New("cause")
	e := &token.Error{Problem: token.Signature, Msg: "bad", Err: cause}
	if e.Error() != "bad: cause" || !errors.Is(e, cause) {
		t.Errorf("%q", e.Error())
	}
	if (&token.Error{Msg: "bad"}).Error() != "bad" {
		t.Error("message without a cause")
	}
}
