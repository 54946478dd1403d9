package token

import (
	"strconv"
	"time"
)

// IssuedAt reads the iat of a token whose signature has not been checked: the verifier asks
// for it only when the key set lacks the token's kid, to tell a token that may be signed by
// a key published since the set was fetched (recent: "try again shortly") from one that
// cannot be (a refusal). Whatever it returns, the token is refused.
//
// It is zero when the payload is not base64url, not a JSON object, or has no top-level
// "iat" number spelled without escapes (Access never escapes claim names). The scan reads
// the payload once, whatever its size (the token's own bound caps it), and decodes nothing
// but the number: for 12 KiB of custom claims it costs about a quarter of the RSA check a
// forgery under a known kid costs, where encoding/json costs more than the RSA check itself
// (BenchmarkIssuedAt).
// It is no JSON parser: it only tells strings, nesting and top-level member names apart,
// and a differential fuzz target holds it to encoding/json's reading of valid documents.
func (p *Parsed) IssuedAt() time.Time {
	b, err := b64.DecodeString(p.payload)
	if err != nil {
		return time.Time{}
	}
	f, ok := topLevelNumber(b, "iat")
	if !ok || f > maxNumericDate || f < -maxNumericDate {
		return time.Time{}
	}
	return time.Unix(int64(f), 0)
}

// topLevelNumber returns the number of the first member of the object b called name.
func topLevelNumber(b []byte, name string) (float64, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	depth, wantKey := 1, true
	for i++; i < len(b); {
		switch c := b[i]; c {
		case '"':
			end := stringEnd(b, i)
			if end < 0 {
				return 0, false
			}
			if depth == 1 && wantKey {
				j := skipSpace(b, end)
				if j >= len(b) || b[j] != ':' {
					return 0, false
				}
				if string(b[i+1:end-1]) == name {
					return number(b, skipSpace(b, j+1))
				}
				wantKey, end = false, j+1
			}
			i = end
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth--; depth == 0 {
				return 0, false
			}
			i++
		case ',':
			wantKey = depth == 1
			i++
		default:
			i++
		}
	}
	return 0, false
}

// stringEnd returns the index just past the string that starts at b[i] (a quote), or -1.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// number reads the JSON number at b[i:].
func number(b []byte, i int) (float64, bool) {
	j := i
	for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
		j++
	}
	f, err := strconv.ParseFloat(string(b[i:j]), 64)
	return f, err == nil && j > i
}
