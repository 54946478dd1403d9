package fiber2access

import (
	"github.com/gofiber/fiber/v2"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches the next handler with its core.Caller in c.UserContext()
// (see Caller), and where c.Context(), the *fasthttp.RequestCtx, finds it as a
// context.Context: core.CallerFromContext(c.Context()) works as
// core.CallerFromContext(c.UserContext()) does. Register it before the routes it protects:
// fiber's Use applies to the routes registered after it.
//
// Configure the app with fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)}: with
// fiber's default 4 KiB, a token of a few KB, which Access sends as a header and again as a
// cookie, is answered 431 by fiber before the middleware runs (see the package doc).
func Middleware(v *core.Verifier, opts ...Option) fiber.Handler {
	cfg, guard := adapterkit.Middleware[*fiber.Ctx](v, opts)
	return func(c *fiber.Ctx) error {
		var caller *core.Caller // nil: seen, with no caller; a requirement after this answers 401, not 500
		if cfg.Skip == nil || !cfg.Skip(c) {
			d := guard.Check(c.UserContext(), request{c.Context()})
			if !d.Allowed() {
				return refuse(cfg, c, d)
			}
			caller = d.Caller // nil when WithOptionalAuth let a request without a token through
		}
		// The user value is what c.Context().Value reads, so that
		// core.CallerFromContext(c.Context()) works too.
		c.Context().SetUserValue(adapter.ContextKey(), caller)
		c.SetUserContext(core.ContextWithCaller(c.UserContext(), caller))
		return c.Next()
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// logged where the route is registered and answered 500.
func Require(p core.Policy, opts ...RequireOption) fiber.Handler {
	cfg, q := adapterkit.Require[*fiber.Ctx](p, opts)
	return func(c *fiber.Ctx) error {
		if d := q.Check(c.UserContext(), request{c.Context()}); !d.Allowed() {
			return refuse(cfg, c, d)
		}
		return c.Next()
	}
}

// RequireGroups is Require(core.Groups(group), opts...): members of the group may pass.
// For any of several groups, use Require(core.Groups("admins", "ops")).
func RequireGroups(group string, opts ...RequireOption) fiber.Handler {
	return Require(core.Groups(group), opts...)
}

var accessors = adapter.Accessors{Fix: "register fiber2access.Middleware before the routes that need it: fiber's Use applies only to the routes registered after it"}

// Caller returns the verified caller of c, if Middleware let it through with one. It reads
// c.UserContext() (core.CallerFromContext), where a test can put a caller too
// (c.SetUserContext(core.ContextWithCaller(…))). On a request that no Middleware saw, it
// reports none and logs the mistake once.
func Caller(c *fiber.Ctx) (*core.Caller, bool) { return accessors.Caller(c.UserContext()) }

// Claims returns the verified claims of c's caller (see Caller).
func Claims(c *fiber.Ctx) (*core.Claims, bool) { return accessors.Claims(c.UserContext()) }

// Identity returns the identity of c's caller (see Caller) from get-identity, looked up on
// first use and cached: core.ErrForbidden for a service token, core.ErrUnavailable when
// Access is down, core.ErrMissingToken on a route the middleware skips.
func Identity(c *fiber.Ctx) (*core.Identity, error) { return accessors.Identity(c.UserContext()) }

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503).
func WriteError(c *fiber.Ctx, err error) error { return write(c, adapter.ErrorResponse(err)) }

// refuse answers a refused request.
func refuse(cfg *adapterkit.Config[*fiber.Ctx], c *fiber.Ctx, d adapter.Decision) error {
	if h := cfg.ErrorHandler(d); h != nil {
		return h(c, d.Err)
	}
	return write(c, d.Response())
}

// write renders r in fiber's idiom: the whole of what this adapter knows about responses.
func write(c *fiber.Ctx, r adapter.Response) error {
	for k, v := range r.Headers() {
		c.Set(k, v)
	}
	c.Status(r.Status)
	if r.Body == nil {
		return nil
	}
	return c.Send(r.Body)
}
