package echo5access

import (
	"github.com/labstack/echo/v5"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches next with its core.Caller in the request's
// context.Context (see Caller).
func Middleware(v *core.Verifier, opts ...Option) echo.MiddlewareFunc {
	cfg, guard := adapterkit.Middleware[*echo.Context](v, opts)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			var caller *core.Caller // nil: seen, with no caller; a requirement after this answers 401, not 500
			if cfg.Skip == nil || !cfg.Skip(c) {
				d := guard.Check(r.Context(), adapter.HTTPRequest(r))
				if !d.Allowed() {
					return refuse(cfg, c, d)
				}
				caller = d.Caller // nil when WithOptionalAuth let a request without a token through
			}
			c.SetRequest(r.WithContext(core.ContextWithCaller(r.Context(), caller)))
			return next(c)
		}
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// logged where the route is registered and answered 500.
func Require(p core.Policy, opts ...RequireOption) echo.MiddlewareFunc {
	cfg, q := adapterkit.Require[*echo.Context](p, opts)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			if d := q.Check(r.Context(), adapter.HTTPRequest(r)); !d.Allowed() {
				return refuse(cfg, c, d)
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

var accessors = adapter.Accessors{Fix: "put echo5access.Middleware before the handler: e.Use(echo5access.Middleware(v)), on a group that holds the route, or on the route itself"}

// Caller returns the verified caller of c's request, if Middleware let it through with one.
// It reads the request's context.Context (core.CallerFromContext), where a test can put a
// caller too (core.ContextWithCaller). On a request that no Middleware saw, it reports none
// and logs the mistake once.
func Caller(c *echo.Context) (*core.Caller, bool) { return accessors.Caller(c.Request().Context()) }

// Claims returns the verified claims of c's caller (see Caller).
func Claims(c *echo.Context) (*core.Claims, bool) { return accessors.Claims(c.Request().Context()) }

// Identity returns the identity of c's caller (see Caller) from get-identity, looked up on
// first use and cached: core.ErrForbidden for a service token, core.ErrUnavailable when
// Access is down, core.ErrMissingToken on a route the middleware skips.
func Identity(c *echo.Context) (*core.Identity, error) {
	return accessors.Identity(c.Request().Context())
}

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503). It
// returns nil, the answer being written, so that a handler can end with it:
//
//	return echo5access.WriteError(c, err)
func WriteError(c *echo.Context, err error) error {
	adapter.ErrorResponse(err).Write(c.Response())
	return nil
}

// refuse answers a refused request. The default answer is written here and nil returned:
// an echo.HTTPError would let echo's HTTPErrorHandler rewrite core's status, headers and body.
func refuse(cfg *adapterkit.Config[*echo.Context], c *echo.Context, d adapter.Decision) error {
	if h := cfg.ErrorHandler(d); h != nil {
		return h(c, d.Err)
	}
	d.Response().Write(c.Response())
	return nil
}
