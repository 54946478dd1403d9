// Package conformance is the HTTP behaviour every adapter must show, as one table of cases
// that each adapter's tests run against a server built on its real framework router. Because
// the adapters answer the same requests with the same bytes, they cannot drift apart.
//
// An adapter's test implements Start: it builds its router with the routes below, using its
// own middleware, options and accessors, serves it on loopback, and returns the base URL.
// The handlers answer with the helpers of this package, so that only the adapter differs.
// s is the Setup that Start receives; h is a custom error handler answering Custom(err);
// inject is a middleware of the test's own that puts s.Inject in the request's
// context.Context with core.ContextWithCaller, and nowhere else; parse is a middleware of
// the test's own that reads the cookie "x" through the framework's own API.
//
//	GET /public            no middleware                                  → Public
//	GET /api/whoami        Middleware(s.Verifier)                         → WhoAmI(request context, the adapter's Caller and Claims)
//	GET /api/me            Middleware(s.Verifier)                         → Me(identity from the adapter's Identity),
//	                       or, on error, the adapter's WriteError
//	GET /api/admin         Middleware(s.Verifier), RequireGroups(AdminGroup) → WhoAmI
//	GET /api/service       Middleware(s.Verifier), Require(core.ServiceTokens(ServiceClientID)) → WhoAmI
//	GET /api/broken        Middleware(s.Verifier), Require(BrokenPolicy())  → WhoAmI (must refuse: 500)
//	GET /api/zero          Middleware(s.Verifier), Require(core.Policy{})   → WhoAmI (must refuse: 500)
//	GET /api/blank         Middleware(s.Verifier), RequireGroups("")        → WhoAmI (must refuse: 500)
//	GET /web/page          Middleware(s.Verifier, WithLoginRedirect())      → WhoAmI (and HEAD, and POST)
//	GET /parsed/whoami     parse, Middleware(s.Verifier)                    → WhoAmI
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
//	GET /bare/whoami       no middleware                                    → WhoAmI (reports no caller; the accessor logs the mistake)
//	GET /bare/admin        RequireGroups(AdminGroup) without Middleware     → WhoAmI (must refuse: 500)
//	GET /bare/me           no middleware                                    → as /api/me (must refuse: 500)
//	GET /nil/whoami        Middleware(nil)                                  → WhoAmI (must refuse: 500)
//	GET /ctx/whoami        inject                                           → WhoAmI
//	GET /ctx/me            inject                                           → as /api/me
//	GET /ctx/admin         inject, RequireGroups(AdminGroup)                → WhoAmI
//
// Routers that do not answer HEAD on a GET route by themselves get a HEAD route for
// /web/page of their own.
package conformance

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// The group and service token the routes name.
const (
	AdminGroup      = "admins"
	ServiceClientID = "0123456789abcdef0123456789abcdef.access"
)

// The server must accept the requests Access sends: a token of a few KB (SAML attributes)
// twice, as the header and as the cookie, beside the application's own cookies. A framework
// whose default header limit is smaller (fiber's read buffer) is configured as its adapter's
// documentation tells users to (adapter.MaxHeaderBytes). Requests are sent with the Host
// header of a Case, when it sets one: the adapter must read the Host header as it came, never
// a proxy's X-Forwarded-Host.
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
type TB = testkit.TB

// The handlers' answers are adapter.Response values, which every adapter's test already
// knows how to write (that is its middleware's job too): status, Response.Headers, body.

// BrokenPolicy is a policy built with a mistake (an empty group list), as a typo in
// configuration makes one: a requirement with it must refuse everyone, never allow.
func BrokenPolicy() core.Policy { return core.Groups() }

// SkipOpen is the skipper of /skip: it skips the paths under /skip/open.
func SkipOpen(path string) bool { return strings.HasPrefix(path, "/skip/open") }

// ParsedCookie is the cookie that the test's parse middleware of /parsed reads.
const ParsedCookie = "x"

// Public is the answer of /public.
func Public() adapter.Response {
	return adapter.Response{Status: http.StatusOK, Body: []byte(`{"public":true}`)}
}

// WhoAmI is the answer of the authenticated routes. caller and claims are what the adapter's
// Caller and Claims accessors returned (nil when they reported none); ctx is the request's
// context.Context. All three must tell of the same caller: the answer is 500 if they
// disagree.
func WhoAmI(ctx context.Context, caller *core.Caller, claims *core.Claims) adapter.Response {
	fromCtx, _ := core.CallerFromContext(ctx)
	switch {
	case caller != fromCtx:
		return disagree("the adapter's Caller and the request context")
	case caller == nil && claims != nil, caller != nil && claims != caller.Claims:
		return disagree("the adapter's Caller and Claims")
	case caller == nil:
		return adapter.Response{Status: http.StatusOK, Body: []byte(`{"caller":null}`)}
	}
	kept.add(caller)
	return answerJSON(map[string]any{"caller": claims})
}

func disagree(what string) adapter.Response {
	return adapter.Response{Status: http.StatusInternalServerError, Body: []byte(`{"error":"` + what + ` disagree"}`)}
}

// Me is the answer of /api/me when the adapter's accessor found the identity.
func Me(id *core.Identity) adapter.Response {
	return answerJSON(map[string]any{"identity": id})
}

// Custom is what the custom error handler of /custom/... answers.
func Custom(err *core.Error) adapter.Response {
	return adapter.Response{Status: http.StatusTeapot, Body: []byte(`{"custom":"` + string(err.Code) + `"}`)}
}

func answerJSON(v any) adapter.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return adapter.Response{Status: http.StatusInternalServerError, Body: []byte(`{"error":"encoding"}`)}
	}
	return adapter.Response{Status: http.StatusOK, Body: b}
}

// kept holds the callers that WhoAmI answered for while a test keeps them, as a handler that
// hands its caller to a goroutine of its own does, so that the test can check them after
// their requests are over (see keepAlive).
var kept keeper

type keeper struct {
	mu      sync.Mutex
	on      bool
	callers map[*core.Caller][]string // the e-mails each caller answered with
}

func (k *keeper) add(c *core.Caller) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.on {
		k.callers[c] = append(k.callers[c], strings.Clone(c.Claims.Email))
	}
}

// start keeps the callers from now on; stop stops keeping them and returns them.
func (k *keeper) start() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.on, k.callers = true, map[*core.Caller][]string{}
}

func (k *keeper) stop() map[*core.Caller][]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.on = false
	return k.callers
}
