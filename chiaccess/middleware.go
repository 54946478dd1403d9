package chiaccess

import (
	"net/http"

	"github.com/cfaccess/cfaccess/core"
)

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches next with its core.Caller in its context.Context (see
// Caller).
func Middleware(v *core.Verifier, opts ...Option) func(http.Handler) http.Handler {
	cfg := configure(opts, Option.applyMiddleware)
	guard := core.MiddlewareGuard(v, cfg.guardOptions()...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var caller *core.Caller // nil: seen, with no caller; a requirement after this answers 401, not 500
			if cfg.skip == nil || !cfg.skip(r) {
				d := guard.Check(r.Context(), core.HTTPRequest(r))
				if !d.Allowed() {
					cfg.refuse(w, r, d)
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
// answered 500 too.
func Require(p core.Policy, opts ...RequireOption) func(http.Handler) http.Handler {
	cfg := configure(opts, RequireOption.applyRequire)
	q := core.NewRequirement(p, core.RequirementObserver(cfg.observe))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d := q.Check(r.Context(), core.HTTPRequest(r)); !d.Allowed() {
				cfg.refuse(w, r, d)
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

// Caller returns the verified caller of r, if Middleware let it through with one. It reads
// r's context.Context (core.CallerFromContext), where a test can put a caller too
// (core.ContextWithCaller).
func Caller(r *http.Request) (*core.Caller, bool) { return core.CallerFromContext(r.Context()) }

// Claims returns the verified claims of r's caller (see Caller).
func Claims(r *http.Request) (*core.Claims, bool) { return core.FromContext(r.Context()) }

// Identity returns the identity of r's caller (see Caller) from get-identity, looked up on
// first use and cached (see core.IdentityFromContext for the errors).
func Identity(r *http.Request) (*core.Identity, error) { return core.IdentityFromContext(r.Context()) }

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503).
func WriteError(w http.ResponseWriter, err error) { core.ErrorResponse(err).Write(w) }
