package ginaccess

import (
	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// Middleware verifies the Access token of every request and aborts those without a valid
// one. An allowed request goes on with its core.Caller in the request's context.Context
// (see Caller). Register it before the routes it protects: gin's Use applies to the routes
// registered after it.
func Middleware(v *core.Verifier, opts ...Option) gin.HandlerFunc {
	cfg, guard := adapterkit.Middleware[*gin.Context](v, opts)
	return func(c *gin.Context) {
		var caller *core.Caller // nil: seen, with no caller; a requirement after this answers 401, not 500
		if cfg.Skip == nil || !cfg.Skip(c) {
			d := guard.Check(c.Request.Context(), adapter.HTTPRequest(c.Request))
			if !d.Allowed() {
				refuse(cfg, c, d)
				return
			}
			caller = d.Caller // nil when WithOptionalAuth let a request without a token through
		}
		c.Request = c.Request.WithContext(core.ContextWithCaller(c.Request.Context(), caller))
		c.Next()
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// logged where the route is registered and answered 500.
func Require(p core.Policy, opts ...RequireOption) gin.HandlerFunc {
	cfg, q := adapterkit.Require[*gin.Context](p, opts)
	return func(c *gin.Context) {
		if d := q.Check(c.Request.Context(), adapter.HTTPRequest(c.Request)); !d.Allowed() {
			refuse(cfg, c, d)
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

var accessors = adapter.Accessors{Fix: "register ginaccess.Middleware before the routes that need it: gin's Use applies only to the routes registered after it"}

// Caller returns the verified caller of c's request, if Middleware let it through with one.
// It reads the request's context.Context (core.CallerFromContext), where a test can put a
// caller too (core.ContextWithCaller). On a request that no Middleware saw, it reports none
// and logs the mistake once.
func Caller(c *gin.Context) (*core.Caller, bool) { return accessors.Caller(c.Request.Context()) }

// Claims returns the verified claims of c's caller (see Caller).
func Claims(c *gin.Context) (*core.Claims, bool) { return accessors.Claims(c.Request.Context()) }

// Identity returns the identity of c's caller (see Caller) from get-identity, looked up on
// first use and cached: core.ErrForbidden for a service token, core.ErrUnavailable when
// Access is down, core.ErrMissingToken on a route the middleware skips.
func Identity(c *gin.Context) (*core.Identity, error) {
	return accessors.Identity(c.Request.Context())
}

// WriteError answers with err as the middleware answers a refusal, and aborts the chain: for
// handlers that meet an error of cfaccess, such as Identity's for a service token (403) or
// an outage (503). Prefer it to gin's own c.AbortWithError, which records err and sets a
// status but writes no body.
func WriteError(c *gin.Context, err error) { abort(c, adapter.ErrorResponse(err)) }

// refuse answers a refused request.
func refuse(cfg *adapterkit.Config[*gin.Context], c *gin.Context, d adapter.Decision) {
	if h := cfg.ErrorHandler(d); h != nil {
		c.Abort()
		_ = h(c, d.Err) // gin's handlers return no error
		return
	}
	abort(c, d.Response())
}

// abort writes r through gin's own writer, so that gin's logger and outer middleware see its
// status, and stops the chain.
func abort(c *gin.Context, r adapter.Response) {
	for k, v := range r.Headers() {
		c.Header(k, v)
	}
	if r.Body == nil { // a redirect; c.Data would add an empty Content-Type
		c.AbortWithStatus(r.Status)
		return
	}
	c.Abort()
	c.Data(r.Status, c.Writer.Header().Get("Content-Type"), r.Body)
}
