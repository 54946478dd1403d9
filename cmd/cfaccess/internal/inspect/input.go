package inspect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cfaccess/cfaccess/core"
)

// MaxInput bounds what is read from standard input: a token is at most 16 KiB, and a
// pasted request's headers rarely a few more.
const MaxInput = 1 << 20

// errNoToken is input that holds no token at all: a usage error, where input that holds a
// wrong token is a refusal.
type errNoToken struct{ msg string }

func (e *errNoToken) Error() string { return e.msg }

// IsNoToken reports whether err says that the input held no token.
func IsNoToken(err error) bool {
	var e *errNoToken
	return errors.As(err, &e)
}

// ExtractToken finds the token in what a person pastes: the token itself, a
// "Cf-Access-Jwt-Assertion:" header line, a "Cookie:" line (its CF_Authorization), a
// "Set-Cookie:" line, an "Authorization: Bearer" line, or the request headers of curl -v
// or a browser's developer tools, one of whose lines carries the token. The output of
// `cloudflared access token` is the token itself. A single line that is none of these is
// returned as it is, to be refused as malformed; input with no token at all is an error
// that IsNoToken recognises.
func ExtractToken(input string) (string, error) {
	text := strings.TrimSpace(input)
	if text == "" {
		return "", &errNoToken{"no token given: pass it as an argument or on standard input"}
	}
	lines := strings.Split(text, "\n")
	var cookieWithout, emptyHeader bool
	for _, line := range lines {
		line = unquote(strings.TrimSpace(line))
		// curl -v marks request lines with "> ", some tools quote with "| ".
		for _, p := range []string{"> ", "< ", "| "} {
			line = strings.TrimPrefix(line, p)
		}
		if name, value, ok := headerLine(line); ok {
			value = unquote(strings.TrimSpace(value))
			switch strings.ToLower(name) {
			case "cf-access-jwt-assertion", "cf-access-token":
				if value != "" {
					return value, nil
				}
				emptyHeader = true
			case "cookie":
				if v := cookieValue(value); v != "" {
					return v, nil
				}
				cookieWithout = true
			case "set-cookie":
				first, _, _ := strings.Cut(value, ";")
				if n, v, _ := strings.Cut(strings.TrimSpace(first), "="); n == core.CookieName && v != "" {
					return v, nil
				}
			case "authorization":
				if scheme, v, _ := strings.Cut(value, " "); strings.EqualFold(scheme, "bearer") && strings.TrimSpace(v) != "" {
					return strings.TrimSpace(v), nil
				}
			}
			continue
		}
		if v := cookieValue(line); v != "" { // a bare cookie string, "a=b; CF_Authorization=…"
			return v, nil
		}
		if looksLikeJWT(line) {
			return line, nil
		}
	}
	switch {
	case cookieWithout:
		return "", &errNoToken{"the Cookie header holds no " + core.CookieName + " cookie"}
	case emptyHeader:
		return "", &errNoToken{"the " + core.HeaderName + " header is empty"}
	case len(lines) == 1:
		return unquote(text), nil // to be refused for what is wrong with it
	}
	return "", &errNoToken{fmt.Sprintf("no token found in %d lines of input: paste the token, or its %s or Cookie header line", len(lines), core.HeaderName)}
}

// headerLine splits "Name: value", where Name is an HTTP header name.
func headerLine(line string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(line, ":")
	if !ok || name == "" {
		return "", "", false
	}
	for _, c := range name {
		if !(c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return "", "", false
		}
	}
	return name, value, true
}

// cookieValue returns the CF_Authorization cookie of a Cookie header's value, by its exact
// name, as the verifier reads it.
func cookieValue(header string) string {
	for pair := range strings.SplitSeq(header, ";") {
		if n, v, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && n == core.CookieName {
			return unquote(strings.TrimSpace(v))
		}
	}
	return ""
}

// looksLikeJWT reports whether s is three dot-separated base64url segments, the first two
// of which start as JSON objects do ("eyJ" is base64url for `{"`).
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "eyJ") || !strings.HasPrefix(parts[1], "eyJ") {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// unquote strips one pair of matching quotes, as a shell or a copied JSON string leaves.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
