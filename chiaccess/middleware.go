package chiaccess

import (
	"net/http"

	"github.com/cfaccess/cfaccess/core"
)

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches next with its core.Caller in its context.
func Middleware(v *core.Verifier, opts ...Option) func(http.Handler) http.Handler {
	cfg := newConfig(opts)
	guard := core.MiddlewareGuard(v, cfg.guard...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if cfg.skip != nil && cfg.skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			d := guard.Check(r.Context(), core.HTTPRequest(r))
			if !d.Allowed() {
				cfg.refuse(w, r, d)
				return
			}
			next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), d.Caller)))
		})
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware,
// which puts the caller in the request's context; without one the answer is 401. A policy
// built with a mistake (see core.Policy.Err) is logged now and refuses every request (503).
func Require(p core.Policy, opts ...Option) func(http.Handler) http.Handler {
	cfg := newConfig(opts)
	p = core.MiddlewarePolicy(p)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := core.Authorize(r.Context(), p); !d.Allowed() {
				cfg.refuse(w, r, d)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireGroups is Require(core.Groups(groups...)): members of any of the groups may pass.
func RequireGroups(groups ...string) func(http.Handler) http.Handler {
	return Require(core.Groups(groups...))
}

// Caller returns the verified caller of r, if Middleware let it through.
func Caller(r *http.Request) (*core.Caller, bool) { return core.CallerFromContext(r.Context()) }

// Claims returns the verified claims of r's caller, if Middleware let it through.
func Claims(r *http.Request) (*core.Claims, bool) { return core.FromContext(r.Context()) }

// Identity returns the identity of r's caller from get-identity, looked up on first use and
// cached (see core.Caller.Identity).
func Identity(r *http.Request) (*core.Identity, error) { return core.IdentityFromContext(r.Context()) }

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503).
func WriteError(w http.ResponseWriter, err error) { core.ErrorResponse(err).Write(w) }
