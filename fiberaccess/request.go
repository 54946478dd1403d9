package fiberaccess

import (
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/cfaccess/cfaccess/core/adapter"
)

// request is the adapter.Request view of a fiber request. It holds the *fasthttp.RequestCtx
// rather than the fiber.Ctx: fiber.Ctx is an interface, two words, which would be copied to
// the heap when the view becomes a adapter.Request, while a struct of one pointer fits in the
// interface value as it is. It reads the raw request, as net/http would show it, rather than
// fiber's derived values (c.Host() follows X-Forwarded-Host under TrustProxy, c.Method() a
// method override), so that every adapter decides on the same input.
type request struct{ rc *fasthttp.RequestCtx }

var _ adapter.Request = request{}

func (r request) Header(name string) string { return str(r.rc.Request.Header.Peek(name)) }

func (r request) Values(name string) []string {
	var out []string
	for _, v := range r.rc.Request.Header.PeekAll(name) {
		out = append(out, str(v))
	}
	return out
}

// Cookie reads the raw Cookie header lines with adapter.CookieValue, not with fasthttp's cookie
// parser, so that names, quotes and the first-match rule are those of every other adapter.
// Up to four lines are gathered on the stack; more, which browsers never send, allocate.
// Once something has parsed the cookies through fiber (c.Cookies), fasthttp has dropped the
// raw lines and rebuilds one from its parse: the same cookies in the same order, unquoted,
// for an allocation.
func (r request) Cookie(name string) string {
	var buf [4]string
	lines := buf[:0]
	for _, v := range r.rc.Request.Header.PeekAll(fasthttp.HeaderCookie) {
		lines = append(lines, str(v))
	}
	return adapter.CookieValue(lines, name)
}

func (r request) Method() string { return str(r.rc.Method()) }

// Host is the host of an absolute request URI, else the Host header, as net/http's r.Host;
// fasthttp lowercases it, which changes nothing for a host name.
func (r request) Host() string { return str(r.rc.Host()) }

func (r request) URI() string { return str(r.rc.RequestURI()) }

// str views b as a string without copying. b belongs to fasthttp, which rewrites it for the
// connection's next request: the guard only reads these strings during the request and copies
// what it keeps, the caches' keys and the core.Caller's token.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
