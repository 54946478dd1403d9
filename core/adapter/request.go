package adapter

import (
	"net/http"
	"strings"

	"github.com/cfaccess/cfaccess/core"
)

// Request is the framework-neutral view of an incoming request that a Guard needs. Each
// adapter implements it over its framework's request without copying anything. It must
// show the request as it came, never a value the framework derived from a proxy's headers
// (X-Forwarded-Host) or a method override: every adapter decides on the same input.
type Request interface {
	// Header returns the first value of the named header, or "" when it is absent.
	Header(name string) string
	// Values returns every value of the named header, in order, or nil when it is absent.
	// It is read only for headers that name hosts, with host-bound applications; it may
	// allocate.
	Values(name string) []string
	// Cookie returns the value of the named cookie (exact, case-sensitive name), or "".
	Cookie(name string) string
	// Method returns the HTTP method.
	Method() string
	// Host returns the host (and port, if any) the client addressed: the host of an
	// absolute request URI, else the Host header, as net/http's Request.Host.
	Host() string
	// URI returns the path and query as the client sent them, e.g. "/a%20b?x=1".
	URI() string
}

// TokenFrom returns the request's Access token: the Cf-Access-Jwt-Assertion header when it is
// present, otherwise the CF_Authorization cookie. A present header always wins, even when it
// turns out invalid and the cookie would have verified: the two are never tried in turn.
// An empty header counts as absent, since it carries no credential at all. Only the first
// value of a repeated header is read.
func TokenFrom(r Request) (string, core.TokenSource) {
	if t := strings.Trim(r.Header(core.HeaderName), " \t"); t != "" { // HTTP's optional white space
		return t, core.SourceHeader
	}
	if t := r.Cookie(core.CookieName); t != "" {
		return t, core.SourceCookie
	}
	return "", core.SourceNone
}

// HTTPRequest adapts a *http.Request to [Request]. The conversion allocates nothing: a
// struct of one pointer fits in an interface value as it is.
func HTTPRequest(r *http.Request) Request { return httpRequest{r} }

type httpRequest struct{ r *http.Request }

func (h httpRequest) Header(name string) string { return h.r.Header.Get(name) }

func (h httpRequest) Values(name string) []string { return h.r.Header.Values(name) }

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

// route names r for a log line: its method and path, never its query, which may carry
// anything.
func route(r Request) string {
	if r == nil {
		return ""
	}
	path, _, _ := strings.Cut(r.URI(), "?")
	return r.Method() + " " + path
}

// Hosts returns every host that r names, the ones frameworks and host routers pick an
// application by: its Host (which an absolute request URI overrides), the Host header when
// it differs, each element of every X-Forwarded-Host, and each host= of every Forwarded
// (RFC 7239). With host-bound applications, a token must be bound to all of them: a request
// whose Host names a low-privilege application and whose X-Forwarded-Host names another
// must not reach the other's handlers through a router that reads the forwarded host.
func Hosts(r Request) []string {
	hosts := []string{r.Host()}
	if h := r.Header("Host"); h != "" && h != r.Host() {
		hosts = append(hosts, h)
	}
	for _, line := range r.Values("X-Forwarded-Host") {
		for h := range strings.SplitSeq(line, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
	}
	for _, line := range r.Values("Forwarded") {
		for element := range strings.SplitSeq(line, ",") {
			for pair := range strings.SplitSeq(element, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "host") {
					hosts = append(hosts, strings.Trim(strings.TrimSpace(v), `"`))
				}
			}
		}
	}
	return hosts
}
