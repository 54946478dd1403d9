// Package conformance is the HTTP behaviour every adapter must show, as one table of cases
// that each adapter's tests run against a server built on its real framework router. Because
// the four adapters answer the same requests with the same bytes, they cannot drift apart.
//
// An adapter's test implements Start: it builds its router with the routes below, using its
// own middleware, options and accessors, serves it on loopback, and returns the base URL.
// The handlers answer with the helpers of this package, so that only the adapter differs.
//
//	GET /public          no middleware                          → Public
//	GET /api/whoami      Middleware(v)                          → WhoAmI(claims from the framework's store, request context)
//	GET /api/me          Middleware(v)                          → Me(identity from the adapter's accessor),
//	                     or, on error, the adapter's own error writer
//	GET /api/admin       Middleware(v), RequireGroups(AdminGroup) → WhoAmI
//	GET /api/service     Middleware(v), Require(core.ServiceTokens(ServiceClientID)) → WhoAmI
//	GET /api/broken      Middleware(v), Require(BrokenPolicy())  → WhoAmI (must refuse: 503)
//	GET /web/page        Middleware(v, WithLoginRedirect())     → WhoAmI
//	GET /custom/admin    Middleware(v, WithErrorHandler(h)), RequireGroups(AdminGroup, WithErrorHandler(h)) → WhoAmI;
//	                     h answers Custom(err)
//	GET /skip/open       Middleware(v, WithSkipper(path == /skip/open)) → WhoAmI, which reports no caller
//	GET /skip/closed     the same middleware                    → WhoAmI
//	GET /bare/admin      RequireGroups(AdminGroup) without Middleware → WhoAmI (must refuse: no caller)
package conformance

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/cfaccess/cfaccess/core"
)

// The group and service token the routes name.
const (
	AdminGroup      = "admins"
	ServiceClientID = "0123456789abcdef0123456789abcdef.access"
)

// Start builds the adapter's server for v and returns its base URL, "http://127.0.0.1:port".
// It must stop the server when t ends.
type Start func(t TB, v *core.Verifier) string

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
