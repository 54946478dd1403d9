package echoaccess

import (
	"github.com/labstack/echo/v4"

	"github.com/cfaccess/cfaccess/core"
)

// CallerKey is the key of the *core.Caller in echo's store, for handlers that prefer echo's
// own idiom to Caller and Claims: c.Get(echoaccess.CallerKey).(*core.Caller).
const CallerKey = "cfaccess.caller"

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches next with its core.Caller in echo's store and in the
// request's context.
func Middleware(v *core.Verifier, opts ...Option) echo.MiddlewareFunc {
	cfg := newConfig(opts)
	guard := core.MiddlewareGuard(v, cfg.guard...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.skip != nil && cfg.skip(c) {
				return next(c)
			}
			r := c.Request()
			d := guard.Check(r.Context(), core.HTTPRequest(r))
			if !d.Allowed() {
				return cfg.refuse(c, d)
			}
			c.Set(CallerKey, d.Caller)
			c.SetRequest(r.WithContext(core.ContextWithCaller(r.Context(), d.Caller)))
			return next(c)
		}
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware,
// which puts the caller in the request's context; without one the answer is 401. A policy
// built with a mistake (see core.Policy.Err) is logged now and refuses every request (503).
func Require(p core.Policy, opts ...Option) echo.MiddlewareFunc {
	cfg := newConfig(opts)
	p = core.MiddlewarePolicy(p)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if d := core.Authorize(c.Request().Context(), p); !d.Allowed() {
				return cfg.refuse(c, d)
			}
			return next(c)
		}
	}
}

// RequireGroups is Require(core.Groups(groups...)): members of any of the groups may pass.
func RequireGroups(groups ...string) echo.MiddlewareFunc {
	return Require(core.Groups(groups...))
}

// Caller returns the verified caller of c's request, if Middleware let it through.
func Caller(c echo.Context) (*core.Caller, bool) {
	caller, ok := c.Get(CallerKey).(*core.Caller)
	return caller, ok && caller != nil && caller.Claims != nil
}

// Claims returns the verified claims of c's caller, if Middleware let it through.
func Claims(c echo.Context) (*core.Claims, bool) {
	if caller, ok := Caller(c); ok {
		return caller.Claims, true
	}
	return nil, false
}

// Identity returns the identity of c's caller from get-identity, looked up on first use and
// cached (see core.Caller.Identity).
func Identity(c echo.Context) (*core.Identity, error) {
	ctx := c.Request().Context() // the lookup ends with the request
	if caller, ok := Caller(c); ok {
		return caller.Identity(ctx)
	}
	// Middleware fills both stores or neither: this is, in practice, core's "authenticate
	// first" error, worded once, in core.
	return core.IdentityFromContext(ctx)
}

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503). It
// returns nil, the answer being written, so that a handler can end with it:
//
//	return echoaccess.WriteError(c, err)
func WriteError(c echo.Context, err error) error {
	core.ErrorResponse(err).Write(c.Response())
	return nil
}
