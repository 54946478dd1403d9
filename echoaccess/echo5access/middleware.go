package echo5access

import (
	"github.com/labstack/echo/v5"

	"github.com/cfaccess/cfaccess/core"
)

// CallerKey is the key of the *core.Caller in echo's store, for handlers that prefer echo's
// own idiom: c.Get(echo5access.CallerKey).(*core.Caller). The middleware keeps it there as a
// copy; Caller, Claims, Identity and Require read the request's context.Context.
const CallerKey = "cfaccess.caller"

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches next with its core.Caller in the request's
// context.Context (see Caller) and in echo's store (see CallerKey).
func Middleware(v *core.Verifier, opts ...Option) echo.MiddlewareFunc {
	cfg := configure(opts, Option.applyMiddleware)
	guard := core.MiddlewareGuard(v, cfg.guardOptions()...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if cfg.skip != nil && cfg.skip(c) {
				return pass(c, next, nil)
			}
			r := c.Request()
			d := guard.Check(r.Context(), core.HTTPRequest(r))
			if !d.Allowed() {
				return cfg.refuse(c, d)
			}
			return pass(c, next, d.Caller) // nil when WithOptionalAuth let a request without a token through
		}
	}
}

// pass hands the request on to next with caller. A nil caller still marks the request as
// seen, so that a requirement after this answers 401, not 500; echo's store then holds
// nothing.
func pass(c *echo.Context, next echo.HandlerFunc, caller *core.Caller) error {
	if caller != nil {
		c.Set(CallerKey, caller)
	}
	r := c.Request()
	c.SetRequest(r.WithContext(core.ContextWithCaller(r.Context(), caller)))
	return next(c)
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// answered 500 too.
func Require(p core.Policy, opts ...RequireOption) echo.MiddlewareFunc {
	cfg := configure(opts, RequireOption.applyRequire)
	q := core.NewRequirement(p, core.RequirementObserver(cfg.observe))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			if d := q.Check(r.Context(), core.HTTPRequest(r)); !d.Allowed() {
				return cfg.refuse(c, d)
			}
			return next(c)
		}
	}
}

// RequireGroups is Require(core.Groups(group), opts...): members of the group may pass.
// For any of several groups, use Require(core.Groups("admins", "ops")).
func RequireGroups(group string, opts ...RequireOption) echo.MiddlewareFunc {
	return Require(core.Groups(group), opts...)
}

// Caller returns the verified caller of c's request, if Middleware let it through with one.
// It reads the request's context.Context (core.CallerFromContext), where a test can put a
// caller too (core.ContextWithCaller).
func Caller(c *echo.Context) (*core.Caller, bool) {
	return core.CallerFromContext(c.Request().Context())
}

// Claims returns the verified claims of c's caller (see Caller).
func Claims(c *echo.Context) (*core.Claims, bool) {
	return core.FromContext(c.Request().Context())
}

// Identity returns the identity of c's caller (see Caller) from get-identity, looked up on
// first use and cached (see core.IdentityFromContext for the errors).
func Identity(c *echo.Context) (*core.Identity, error) {
	return core.IdentityFromContext(c.Request().Context())
}

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503). It
// returns nil, the answer being written, so that a handler can end with it:
//
//	return echo5access.WriteError(c, err)
func WriteError(c *echo.Context, err error) error {
	core.ErrorResponse(err).Write(c.Response())
	return nil
}
