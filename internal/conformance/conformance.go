// Package conformance is the HTTP behaviour every adapter must show, as one table of cases
// that each adapter's tests run against a server built on its real framework router. Because
// the adapters answer the same requests with the same bytes, they cannot drift apart.
//
// An adapter's test implements Start: it builds its router with the routes below, using its
// own middleware, options and accessors, serves it on loopback, and returns the base URL.
// The handlers answer with the helpers of this package, so that only the adapter differs.
// s is the Setup that Start receives; h is a custom error handler answering Custom(err);
// inject is a middleware of the test's own that puts s.Inject in the request's
// context.Context with core.ContextWithCaller, and nowhere else.
//
//	GET /public            no middleware                                  → Public
//	GET /api/whoami        Middleware(s.Verifier)                         → WhoAmI(claims from the adapter's Claims, request context)
//	GET /api/me            Middleware(s.Verifier)                         → Me(identity from the adapter's Identity),
//	                       or, on error, the adapter's WriteError
//	GET /api/admin         Middleware(s.Verifier), RequireGroups(AdminGroup) → WhoAmI
//	GET /api/service       Middleware(s.Verifier), Require(core.ServiceTokens(ServiceClientID)) → WhoAmI
//	GET /api/broken        Middleware(s.Verifier), Require(BrokenPolicy())  → WhoAmI (must refuse: 500)
//	GET /api/zero          Middleware(s.Verifier), Require(core.Policy{})   → WhoAmI (must refuse: 500)
//	GET /api/blank         Middleware(s.Verifier), RequireGroups("")        → WhoAmI (must refuse: 500)
//	GET /web/page          Middleware(s.Verifier, WithLoginRedirect())      → WhoAmI (and POST)
//	GET /custom/admin      Middleware(s.Verifier, WithErrorHandler(h)), RequireGroups(AdminGroup, WithErrorHandler(h)) → WhoAmI
//	GET /custom/broken     Middleware(s.Verifier, WithErrorHandler(h)), Require(BrokenPolicy(), WithErrorHandler(h)) → WhoAmI
//	GET /observed/admin    Middleware(s.Verifier, WithObserver(s.Observe)), RequireGroups(AdminGroup, WithObserver(s.Observe)) → WhoAmI
//	GET /skip/open         Middleware(s.Verifier, WithSkipper(path starts with /skip/open)) → WhoAmI, which reports no caller
//	GET /skip/open/admin   the same middleware, RequireGroups(AdminGroup)   → WhoAmI (must refuse: 401)
//	GET /skip/open/me      the same middleware                              → as /api/me (must refuse: 401)
//	GET /skip/closed       the same middleware                              → WhoAmI
//	GET /optional/whoami   Middleware(s.Verifier, WithOptionalAuth(), WithLoginRedirect()) → WhoAmI, which reports no caller without a token
//	GET /optional/admin    the same middleware, RequireGroups(AdminGroup)   → WhoAmI (no token: must refuse, 401)
//	GET /optional/me       the same middleware                              → as /api/me (no token: must refuse, 401)
//	GET /bare/admin        RequireGroups(AdminGroup) without Middleware     → WhoAmI (must refuse: 500)
//	GET /bare/me           no middleware                                    → as /api/me (must refuse: 500)
//	GET /nil/whoami        Middleware(nil)                                  → WhoAmI (must refuse: 500)
//	GET /ctx/whoami        inject                                           → WhoAmI
//	GET /ctx/me            inject                                           → as /api/me
//	GET /ctx/admin         inject, RequireGroups(AdminGroup)                → WhoAmI
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/cfaccess/cfaccess/core"
)

// The group and service token the routes name.
const (
	AdminGroup      = "admins"
	ServiceClientID = "0123456789abcdef0123456789abcdef.access"
)

// The server must accept the requests Access sends: a token of a few KB (SAML attributes)
// twice, as the header and as the cookie, beside the application's own cookies. A framework
// whose default header limit is smaller (fiber's read buffer) is configured as its adapter's
// documentation tells users to (core.MaxHeaderBytes). Requests are sent with the Host header
// of a Case, when it sets one: the adapter must read the Host header as it came, never a
// proxy's X-Forwarded-Host.
//
// Start builds the adapter's server with the routes of the package documentation and returns
// its base URL, "http://127.0.0.1:port". It must stop the server when t ends.
type Start func(t TB, s Setup) string

// Setup is what Start builds the routes with.
type Setup struct {
	Verifier *core.Verifier   // for every Middleware but that of /nil
	Observe  func(core.Event) // for the WithObserver options of /observed
	Inject   *core.Caller     // for the test's own middleware of /ctx
}

// TB is the part of testing.TB that Start needs.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// The handlers' answers are core.Response values, which every adapter's test already knows
// how to write (that is its middleware's job too): status, Response.Headers, body.

// BrokenPolicy is a policy built with a mistake (an empty group list), as a typo in
// configuration makes one: a requirement with it must refuse everyone, never allow.
func BrokenPolicy() core.Policy { return core.Groups() }

// SkipOpen is the skipper of /skip: it skips the paths under /skip/open.
func SkipOpen(path string) bool { return strings.HasPrefix(path, "/skip/open") }

// Public is the answer of /public.
func Public() core.Response {
	return core.Response{Status: http.StatusOK, Body: []byte(`{"public":true}`)}
}

// WhoAmI is the answer of the authenticated routes. fromStore is what the adapter's typed
// accessor returned from the framework's own store (nil if none); ctx is the request's
// context.Context. Both must hold the same caller: the answer is 500 if they disagree.
func WhoAmI(fromStore *core.Claims, ctx context.Context) core.Response {
	fromCtx, _ := core.FromContext(ctx)
	if fromStore != fromCtx {
		return core.Response{Status: http.StatusInternalServerError, Body: []byte(`{"error":"the framework store and the request context disagree"}`)}
	}
	if fromStore == nil {
		return core.Response{Status: http.StatusOK, Body: []byte(`{"caller":null}`)}
	}
	return answerJSON(map[string]any{"caller": fromStore})
}

// Me is the answer of /api/me when the adapter's accessor found the identity.
func Me(id *core.Identity) core.Response {
	return answerJSON(map[string]any{"identity": id})
}

// Custom is what the custom error handler of /custom/... answers.
func Custom(err *core.Error) core.Response {
	return core.Response{Status: http.StatusTeapot, Body: []byte(`{"custom":"` + string(err.Code) + `"}`)}
}

func answerJSON(v any) core.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return core.Response{Status: http.StatusInternalServerError, Body: []byte(`{"error":"encoding"}`)}
	}
	return core.Response{Status: http.StatusOK, Body: b}
}

// CodeOf returns the code of err, a *core.Error, "" for nil, and a description of any other
// error: for tests that print what an accessor returned.
func CodeOf(err error) core.Code {
	var e *core.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return core.Code("not a *core.Error: " + err.Error())
}
