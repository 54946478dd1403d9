package core

import (
	"net/http"
	"strings"
)

// Where Cloudflare Access puts the token on requests to the origin.
const (
	HeaderName = "Cf-Access-Jwt-Assertion" // set by Access on every proxied request
	CookieName = "CF_Authorization"        // set in the browser after login; exact case
)

// Request is the framework-neutral view of an incoming request that the guard needs. Each
// adapter implements it over its framework's request without copying anything.
type Request interface {
	// Header returns the first value of the named header, or "" when it is absent.
	Header(name string) string
	// Cookie returns the value of the named cookie (exact, case-sensitive name), or "".
	Cookie(name string) string
	// Method returns the HTTP method.
	Method() string
	// Host returns the host (and port, if any) the client addressed.
	Host() string
	// URI returns the path and query as the client sent them, e.g. "/a%20b?x=1".
	URI() string
}

// TokenSource tells where a token was found.
type TokenSource uint8

// The token sources.
const (
	SourceNone   TokenSource = iota // no token on the request
	SourceHeader                    // the Cf-Access-Jwt-Assertion header
	SourceCookie                    // the CF_Authorization cookie
)

// String returns "header", "cookie" or "none".
func (s TokenSource) String() string {
	switch s {
	case SourceHeader:
		return "header"
	case SourceCookie:
		return "cookie"
	}
	return "none"
}

// TokenFrom returns the request's Access token: the Cf-Access-Jwt-Assertion header when it is
// present, otherwise the CF_Authorization cookie. A present header always wins, even when it
// turns out invalid and the cookie would have verified: the two are never tried in turn.
// An empty header counts as absent, since it carries no credential at all. Only the first
// value of a repeated header is read.
func TokenFrom(r Request) (string, TokenSource) {
	if t := strings.Trim(r.Header(HeaderName), " \t"); t != "" { // HTTP's optional white space
		return t, SourceHeader
	}
	if t := r.Cookie(CookieName); t != "" {
		return t, SourceCookie
	}
	return "", SourceNone
}

// HTTPRequest adapts a *http.Request to [Request]. The conversion allocates nothing: a
// struct of one pointer fits in an interface value as it is.
func HTTPRequest(r *http.Request) Request { return httpRequest{r} }

type httpRequest struct{ r *http.Request }

func (h httpRequest) Header(name string) string { return h.r.Header.Get(name) }

func (h httpRequest) Cookie(name string) string { return CookieValue(h.r.Header["Cookie"], name) }

func (h httpRequest) Method() string { return h.r.Method }

func (h httpRequest) Host() string { return h.r.Host }

func (h httpRequest) URI() string {
	if h.r.RequestURI != "" {
		return h.r.RequestURI
	}
	return h.r.URL.RequestURI() // a request built in a test, not read from the wire
}

// CookieValue finds the first cookie called name in Cookie header values, without allocating.
// Names are matched exactly (CF_Authorization is case-sensitive); a value wrapped in double
// quotes is unwrapped, as net/http does.
func CookieValue(headers []string, name string) string {
	for _, line := range headers {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}
