package core

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzUnverifiedIssuedAt holds the bounded reading of an unverified payload's iat to its
// contract, on any payload segment:
//
//   - it never panics, and reads nothing past the first maxUnverifiedPayload bytes of the
//     segment: whatever follows them does not change the answer;
//   - on a segment within the bound that decodes to a JSON object in valid UTF-8 with one
//     top-level member called exactly "iat", it returns that iat as golang-jwt reads it
//     (seconds, fractions rounded down), or zero if it is not a number in range; with no such
//     member, zero.
func FuzzUnverifiedIssuedAt(f *testing.F) {
	enc := base64.RawURLEncoding
	for _, s := range fzJSONSeeds() {
		f.Add(enc.EncodeToString([]byte(s)))
	}
	for _, s := range []string{
		`{"iat":1700000000}`, `{"iat":1700000000.9}`, `{"iat":-1}`, `{"iat":1e13}`, `{"iat":"1700000000"}`,
		`{"IAT":1700000000}`, `{"\u0069at":1700000000}`, `{"iat":null}`, `{"iat":1,"iat":2}`,
		`{"x":"` + strings.Repeat(`\ud83d\ude00`, 100) + `","iat":1700000000}`,
		`{"x":"` + strings.Repeat("p", 760) + `","iat":1700000000}`,
		`{"iat":1700000000,"x":"` + strings.Repeat("p", 2000) + `"}`,
		`{"iat":1700000000,` + "\xff",
	} {
		f.Add(enc.EncodeToString([]byte(s)))
	}
	f.Add("!!!!")
	f.Add(strings.Repeat("A", maxUnverifiedPayload) + "!")

	f.Fuzz(func(t *testing.T, seg string) {
		got := unverifiedIssuedAt(seg)
		if len(seg) > maxUnverifiedPayload {
			if head := unverifiedIssuedAt(seg[:maxUnverifiedPayload]); !head.Equal(got) {
				t.Fatalf("the bytes past the bound changed the answer: %v, %v for the first %d", got, head, maxUnverifiedPayload)
			}
			return
		}
		data, err := enc.Strict().DecodeString(seg)
		if err != nil || !json.Valid(data) || !utf8.Valid(data) || bytes.IndexByte(bytes.TrimLeft(data, " \t\r\n"), '{') != 0 {
			// The reader may have found an iat before the flaw, or refused invalid UTF-8
			// that encoding/json takes: nothing to compare.
			return
		}
		raw, n := fzTopLevel(t, data, "iat")
		var want time.Time
		switch {
		case n > 1:
			return // duplicates: the first is read, a whole decode keeps the last
		case n == 1:
			if v, err := strconv.ParseFloat(string(raw), 64); err == nil && math.Abs(v) <= maxNumericDate {
				secs, frac := math.Modf(v)
				want = jwt.NewNumericDate(time.Unix(int64(secs), int64(frac*1e9))).Time
			}
		}
		if !got.Equal(want) {
			t.Fatalf("unverifiedIssuedAt(%q) = %v, want %v (payload %q)", seg, got, want, data)
		}
	})
}

// fzTopLevel counts the top-level members of a valid JSON object called key, and returns the
// raw value of the last.
func fzTopLevel(t *testing.T, data []byte, key string) (json.RawMessage, int) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	if _, err := d.Token(); err != nil { // {
		t.Fatal(err)
	}
	var raw json.RawMessage
	n := 0
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if k == key {
			raw, n = v, n+1
		}
	}
	return raw, n
}
