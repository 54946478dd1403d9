package ginaccess

import (
	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
)

// CallerKey is the key of the *core.Caller in gin's store, for handlers that prefer gin's
// own idiom to Caller and Claims: c.MustGet(ginaccess.CallerKey).(*core.Caller).
const CallerKey = "cfaccess.caller"

// Middleware verifies the Access token of every request and aborts those without a valid
// one. An allowed request goes on with its core.Caller in gin's store and in its context.
func Middleware(v *core.Verifier, opts ...Option) gin.HandlerFunc {
	cfg := newConfig(opts)
	guard := core.MiddlewareGuard(v, cfg.guard...)
	return func(c *gin.Context) {
		if cfg.skip != nil && cfg.skip(c) {
			c.Next()
			return
		}
		d := guard.Check(c.Request.Context(), core.HTTPRequest(c.Request))
		if !d.Allowed() {
			cfg.refuse(c, d)
			return
		}
		c.Set(CallerKey, d.Caller)
		c.Request = c.Request.WithContext(core.ContextWithCaller(c.Request.Context(), d.Caller))
		c.Next()
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware,
// which puts the caller in the request's context; without one the answer is 401. A policy
// built with a mistake (see core.Policy.Err) is logged now and refuses every request (503).
func Require(p core.Policy, opts ...Option) gin.HandlerFunc {
	cfg := newConfig(opts)
	p = core.MiddlewarePolicy(p)
	return func(c *gin.Context) {
		if d := core.Authorize(c.Request.Context(), p); !d.Allowed() {
			cfg.refuse(c, d)
			return
		}
		c.Next()
	}
}

// RequireGroups is Require(core.Groups(groups...)): members of any of the groups may pass.
func RequireGroups(groups ...string) gin.HandlerFunc {
	return Require(core.Groups(groups...))
}

// Caller returns the verified caller of c, if Middleware let it through.
func Caller(c *gin.Context) (*core.Caller, bool) {
	v, _ := c.Get(CallerKey)
	caller, ok := v.(*core.Caller)
	return caller, ok && caller != nil && caller.Claims != nil
}

// Claims returns the verified claims of c's caller, if Middleware let it through.
func Claims(c *gin.Context) (*core.Claims, bool) {
	if caller, ok := Caller(c); ok {
		return caller.Claims, true
	}
	return nil, false
}

// Identity returns the identity of c's caller from get-identity, looked up on first use and
// cached (see core.Caller.Identity).
func Identity(c *gin.Context) (*core.Identity, error) {
	return core.IdentityFromContext(c.Request.Context())
}

// AbortWithError answers with err as the middleware answers a refusal, and aborts: for
// handlers that meet an error of cfaccess, such as Identity's for a service token (403) or an
// outage (503).
func AbortWithError(c *gin.Context, err error) { abort(c, core.ErrorResponse(err)) }
