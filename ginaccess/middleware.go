package ginaccess

import (
	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
)

// CallerKey is the key of the *core.Caller in gin's store, for handlers that prefer gin's
// own idiom: c.MustGet(ginaccess.CallerKey).(*core.Caller). The middleware keeps it there
// as a copy; Caller, Claims, Identity and Require read the request's context.Context.
const CallerKey = "cfaccess.caller"

// Middleware verifies the Access token of every request and aborts those without a valid
// one. An allowed request goes on with its core.Caller in the request's context.Context
// (see Caller) and in gin's store (see CallerKey).
func Middleware(v *core.Verifier, opts ...Option) gin.HandlerFunc {
	cfg := configure(opts, Option.applyMiddleware)
	guard := core.MiddlewareGuard(v, cfg.guardOptions()...)
	return func(c *gin.Context) {
		if cfg.skip != nil && cfg.skip(c) {
			pass(c, nil)
			return
		}
		d := guard.Check(c.Request.Context(), core.HTTPRequest(c.Request))
		if !d.Allowed() {
			cfg.refuse(c, d)
			return
		}
		pass(c, d.Caller) // nil when WithOptionalAuth let a request without a token through
	}
}

// pass hands the request on with caller. A nil caller still marks the request as seen, so
// that a requirement after this answers 401, not 500; gin's store then holds nothing.
func pass(c *gin.Context, caller *core.Caller) {
	if caller != nil {
		c.Set(CallerKey, caller)
	}
	c.Request = c.Request.WithContext(core.ContextWithCaller(c.Request.Context(), caller))
	c.Next()
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// answered 500 too.
func Require(p core.Policy, opts ...RequireOption) gin.HandlerFunc {
	cfg := configure(opts, RequireOption.applyRequire)
	q := core.NewRequirement(p, core.RequirementObserver(cfg.observe))
	return func(c *gin.Context) {
		if d := q.Check(c.Request.Context(), core.HTTPRequest(c.Request)); !d.Allowed() {
			cfg.refuse(c, d)
			return
		}
		c.Next()
	}
}

// RequireGroups is Require(core.Groups(group), opts...): members of the group may pass.
// For any of several groups, use Require(core.Groups("admins", "ops")).
func RequireGroups(group string, opts ...RequireOption) gin.HandlerFunc {
	return Require(core.Groups(group), opts...)
}

// Caller returns the verified caller of c's request, if Middleware let it through with one.
// It reads the request's context.Context (core.CallerFromContext), where a test can put a
// caller too (core.ContextWithCaller).
func Caller(c *gin.Context) (*core.Caller, bool) {
	return core.CallerFromContext(c.Request.Context())
}

// Claims returns the verified claims of c's caller (see Caller).
func Claims(c *gin.Context) (*core.Claims, bool) {
	return core.FromContext(c.Request.Context())
}

// Identity returns the identity of c's caller (see Caller) from get-identity, looked up on
// first use and cached (see core.IdentityFromContext for the errors).
func Identity(c *gin.Context) (*core.Identity, error) {
	return core.IdentityFromContext(c.Request.Context())
}

// WriteError answers with err as the middleware answers a refusal, and aborts the chain: for
// handlers that meet an error of cfaccess, such as Identity's for a service token (403) or
// an outage (503). Prefer it to gin's own c.AbortWithError, which records err and sets a
// status but writes no body.
func WriteError(c *gin.Context, err error) { abort(c, core.ErrorResponse(err)) }
