package chiaccess

import (
	"net/http"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches next with its core.Caller in its context.Context (see
// Caller).
func Middleware(v *core.Verifier, opts ...Option) func(http.Handler) http.Handler {
	cfg, guard := adapterkit.Middleware[call](v, opts)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var caller *core.Caller // nil: seen, with no caller; a requirement after this answers 401, not 500
			if cfg.Skip == nil || !cfg.Skip(call{w, r}) {
				d := guard.Check(r.Context(), adapter.HTTPRequest(r))
				if !d.Allowed() {
					refuse(cfg, w, r, d)
					return
				}
				caller = d.Caller // nil when WithOptionalAuth let a request without a token through
			}
			next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), caller)))
		})
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// logged where the route is registered and answered 500.
func Require(p core.Policy, opts ...RequireOption) func(http.Handler) http.Handler {
	cfg, q := adapterkit.Require[call](p, opts)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := q.Check(r.Context(), adapter.HTTPRequest(r)); !d.Allowed() {
				refuse(cfg, w, r, d)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireGroups is Require(core.Groups(group), opts...): members of the group may pass.
// For any of several groups, use Require(core.Groups("admins", "ops")).
func RequireGroups(group string, opts ...RequireOption) func(http.Handler) http.Handler {
	return Require(core.Groups(group), opts...)
}

var accessors = adapter.Accessors{Fix: "put chiaccess.Middleware before the handler: r.Use(chiaccess.Middleware(v)), or r.With(…) on the route"}

// Caller returns the verified caller of r, if Middleware let it through with one. It reads
// r's context.Context (core.CallerFromContext), where a test can put a caller too
// (core.ContextWithCaller). On a request that no Middleware saw, it reports none and logs
// the mistake once.
func Caller(r *http.Request) (*core.Caller, bool) { return accessors.Caller(r.Context()) }

// Claims returns the verified claims of r's caller (see Caller).
func Claims(r *http.Request) (*core.Claims, bool) { return accessors.Claims(r.Context()) }

// Identity returns the identity of r's caller (see Caller) from get-identity, looked up on
// first use and cached: core.ErrForbidden for a service token, core.ErrUnavailable when
// Access is down, core.ErrMissingToken on a route the middleware skips.
func Identity(r *http.Request) (*core.Identity, error) { return accessors.Identity(r.Context()) }

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503).
func WriteError(w http.ResponseWriter, err error) { adapter.ErrorResponse(err).Write(w) }

// refuse answers a refused request.
func refuse(cfg *adapterkit.Config[call], w http.ResponseWriter, r *http.Request, d adapter.Decision) {
	if h := cfg.ErrorHandler(d); h != nil {
		_ = h(call{w, r}, d.Err) // chi's handlers return no error
		return
	}
	d.Response().Write(w)
}
