package forwardauth

import (
	"net/http"
	"strings"

	"github.com/cfaccess/cfaccess/core/adapter"
)

// The headers in which the proxies describe the request they ask about. nginx sends none of
// its own accord: its configuration sets them on the auth subrequest (see the docs).
const (
	headerForwardedHost   = "X-Forwarded-Host"
	headerForwardedMethod = "X-Forwarded-Method"
	headerForwardedURI    = "X-Forwarded-Uri" // Caddy, Traefik, and our nginx configuration
	headerOriginalURI     = "X-Original-URI"  // the name many nginx configurations use
)

// proxied shows a guard the request a proxy asks about, rather than the auth request
// itself: its token and cookies are the original request's (every proxy passes its headers
// on), and its host, method and URI come from the X-Forwarded-* headers the proxy set.
// Those are trusted because only the proxy reaches this server; the proxies replace any a
// client sent (nginx does so where its configuration sets them). The conversion allocates
// nothing, as adapter.HTTPRequest.
type proxied struct{ r *http.Request }

var _ adapter.Request = proxied{}

func (p proxied) Header(name string) string { return p.r.Header.Get(name) }

func (p proxied) Values(name string) []string { return p.r.Header.Values(name) }

func (p proxied) Cookie(name string) string { return adapter.CookieValue(p.r.Header["Cookie"], name) }

// Method is the original request's: the proxies ask with GET (Caddy, Traefik, nginx alike),
// and name the original method in X-Forwarded-Method.
func (p proxied) Method() string {
	if m := p.r.Header.Get(headerForwardedMethod); m != "" {
		return m
	}
	return p.r.Method
}

// Host is the host the client addressed: the first element of X-Forwarded-Host (a proxy
// behind another appends to the list), else the auth request's own Host, which is the
// original host only where the proxy passes it on (Caddy does; nginx sends its upstream's
// address unless told otherwise). With host-bound applications, every element of
// X-Forwarded-Host must be bound to the token's application too (the guard reads them all
// through Values): a host that is not the original one is refused, never taken for another
// application's.
func (p proxied) Host() string {
	if h := p.r.Header.Get(headerForwardedHost); h != "" {
		h, _, _ = strings.Cut(h, ",")
		return strings.TrimSpace(h)
	}
	return p.r.Host
}

// URI is the original request's path and query, for the login page to send the user back
// to; "/" when the proxy does not say.
func (p proxied) URI() string {
	if u := p.r.Header.Get(headerForwardedURI); u != "" {
		return u
	}
	if u := p.r.Header.Get(headerOriginalURI); u != "" {
		return u
	}
	return "/"
}
