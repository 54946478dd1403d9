package token

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

// FuzzIssuedAt holds the scan of an unverified payload for its iat to encoding/json's reading
// of the same bytes. On any input it never panics. On a payload that encoding/json reads as
// an object with exactly one top-level member whose name decodes to "iat", spelled so with no
// escapes, the scan finds that member and agrees with encoding/json: the same float64 when it
// decodes as one, nothing otherwise (a string, null, a number out of float64's range). With
// no such member it finds nothing. IssuedAt is that number's whole seconds, within the range
// of claim dates, and zero otherwise.
//
// Nothing is claimed of payloads that are not valid JSON, or that spell the name with
// escapes or list it twice (encoding/json keeps the last, the scan the first unescaped one):
// Access writes neither, and whatever the scan finds there only chooses between two
// refusals of a token whose signature was never checked.
func FuzzIssuedAt(f *testing.F) {
	for _, s := range []string{
		`{"iat":1700000000}`, `{"iat":1700000000.9}`, `{"iat":-1}`, `{"iat":-1.5}`, `{"iat":1e13}`, `{"iat":1e400}`,
		`{"iat":"1700000000"}`, `{"IAT":1700000000}`, `{"\u0069at":1700000000}`, `{"iat":null}`, `{"iat":1,"iat":2}`,
		`{"iat":true}`, `{"iat":[1]}`, `{"iat":{"iat":1}}`, `{"iat":-0}`, `{"iat":1E+2}`, `{"iat":0.0e-0}`,
		`{"custom":{"iat":1},"iat":2}`, `{"a":[{"iat":1}],"iat":2}`, `{"a":["iat",1],"b":3}`, `{"a":"iat","iat":4}`,
		`{"x":"\"iat\":1","iat":5}`, `{"x":"\\","iat":6}`, `{"x":"\\\"","iat":7}`, `{"iat" :  8 }`,
		" \t\r\n{ \"iat\"\n:\t9 } ", `{"a":{},"b":[],"iat":10}`, `{"a":[[]],"iat":11}`, `{"a":[{}],"iat":12}`,
		`{}`, `[]`, `[{"iat":1}]`, `null`, `"iat"`, `1`, `{"iat":1}{"iat":2}`,
		`{"iat":01}`, `{"iat":-}`, `{"iat":1.}`, `{"iat":.5}`, `{"iat":1e}`, `{"iat":+1}`, `{"iat":0x10}`,
		`{"iat":1-2}`, `{"iat"`, `{"iat":`, `{"x":"` + strings.Repeat(`\ud83d\ude00`, 100) + `","iat":13}`,
		"{\"x\":\"\xff\",\"iat\":14}", "\xef\xbb\xbf{\"iat\":15}", `{"a":1}}`, `{"a":]"iat":1}`,
		`{"aud":["4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"],"email":"ann@example.com",` +
			`"exp":1659474457,"iat":1659474397,"nbf":1659474397,"iss":"https://myteam.cloudflareaccess.com",` +
			`"type":"app","identity_nonce":"6ei69kawdKzMIAPF","sub":"7335d417-61da-459d-899c-0a01c76a2f94","country":"US"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, found := topLevelNumber(payload, "iat")
		p := Parsed{payload: base64.RawURLEncoding.EncodeToString(payload)}
		at := p.IssuedAt()
		switch {
		case !found && !at.IsZero():
			t.Fatalf("IssuedAt = %v with no iat found in %q", at, payload)
		case found && (got > maxNumericDate || got < -maxNumericDate) && !at.IsZero():
			t.Fatalf("IssuedAt = %v for an iat of %v, out of range", at, got)
		case found && got <= maxNumericDate && got >= -maxNumericDate && !at.Equal(time.Unix(int64(got), 0)):
			t.Fatalf("IssuedAt = %v for an iat of %v", at, got)
		}

		raw, ok := soleTopLevel(payload, "iat")
		if !ok {
			return // not a document encoding/json settles
		}
		var want *float64 // null leaves it nil
		wantFound := raw != nil && json.Unmarshal(raw, &want) == nil && want != nil
		if found != wantFound || found && got != *want {
			t.Fatalf("topLevelNumber(%q) = %v, %v; encoding/json reads iat %s (a float64: %v)", payload, got, found, raw, wantFound)
		}
	})
}

// soleTopLevel reads data with encoding/json. It reports whether data is a JSON object with
// at most one top-level member whose name decodes to name, spelled as name with no escapes,
// and returns that member's value (nil when there is none).
func soleTopLevel(data []byte, name string) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if _, err := d.Token(); err != nil { // {
		return nil, false
	}
	var raw json.RawMessage
	n := 0
	for d.More() {
		start := d.InputOffset()
		k, err := d.Token()
		if err != nil {
			return nil, false
		}
		spelled := bytes.TrimLeft(data[start:d.InputOffset()], " \t\r\n,")
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, false
		}
		if k == name {
			if string(spelled) != `"`+name+`"` {
				return nil, false
			}
			raw, n = v, n+1
		}
	}
	return raw, n <= 1
}

// The payload of BenchmarkIssuedAt: 12 KiB of custom claims, many short strings (the groups
// and attributes an identity provider passes on), before iat, as a forgery padded to make
// the reading cost most would be.
func benchPayload(tb testing.TB) []byte {
	var b strings.Builder
	b.WriteString(`{"aud":["4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"],"email":"ann@example.com",`)
	b.WriteString(`"custom":{"groups":[`)
	for i := 0; b.Len() < 12<<10-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"grp-%04d"`, i)
	}
	b.WriteString(`]},"exp":1659474457,"iat":1659474397,"iss":"https://myteam.cloudflareaccess.com","type":"app"}`)
	data := []byte(b.String())
	if len(data) < 12<<10-200 || len(data) > 12<<10 || !json.Valid(data) {
		tb.Fatalf("payload of %d bytes", len(data))
	}
	return data
}

// BenchmarkIssuedAt compares the scan that IssuedAt does with decoding the same payload
// with encoding/json, and with the RSA-2048 check that a forgery under a known kid costs.
// The scan must cost a fraction of the RSA check; encoding/json costs several of them.
func BenchmarkIssuedAt(b *testing.B) {
	data := benchPayload(b)
	seg := base64.RawURLEncoding.EncodeToString(data)
	want := time.Unix(1659474397, 0)

	// payloadBench measures op on the payload, per byte of it.
	payloadBench := func(name string, op func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				op(b)
			}
		})
	}
	decode := func(b *testing.B) []byte {
		payload, err := b64.DecodeString(seg)
		if err != nil {
			b.Fatal(err)
		}
		return payload
	}
	p := Parsed{payload: seg}
	payloadBench("scan", func(b *testing.B) {
		if !p.IssuedAt().Equal(want) {
			b.Fatal("wrong iat")
		}
	})
	payloadBench("scan-decoded", func(b *testing.B) { // the scan alone, without the base64 decoding
		if f, ok := topLevelNumber(data, "iat"); !ok || f != 1659474397 {
			b.Fatal("wrong iat")
		}
	})
	payloadBench("encoding-json-struct", func(b *testing.B) {
		var c struct {
			Iat *float64 `json:"iat"`
		}
		if err := json.Unmarshal(decode(b), &c); err != nil || c.Iat == nil || *c.Iat != 1659474397 {
			b.Fatal("wrong iat", err)
		}
	})
	payloadBench("decode-claims", func(b *testing.B) { // what a verified payload costs, json/v2
		c, err := DecodeClaims(decode(b))
		if err != nil || !Time(c.Iat).Equal(want) {
			b.Fatal("wrong iat", err)
		}
	})
	b.Run("rsa-2048-verify", func(b *testing.B) {
		k := rs256.Key(b, 0)
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k"}`))
		var p Parsed
		if err := p.Parse(rs256.Sign(b, k, hdr, seg)); err != nil {
			b.Fatal(err)
		}
		pub := &k.PublicKey
		b.ReportAllocs()
		for b.Loop() {
			// The signature check alone, as for a forgery: it fails before the payload is decoded.
			d := sha256.Sum256([]byte(p.signed))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], p.sig[:p.sigLen]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
