package fiberaccess

import (
	"github.com/gofiber/fiber/v3"

	"github.com/cfaccess/cfaccess/core"
)

// CallerKey is the key of the *core.Caller in fiber's Locals, for handlers that prefer
// fiber's own idiom to Caller and Claims: c.Locals(fiberaccess.CallerKey).(*core.Caller).
// The middleware goes through the fasthttp user values that back Locals, as c.Locals does
// itself: c.Locals(key, value) would put value in a variadic slice that escapes through the
// interface call, an allocation per request for nothing.
const CallerKey = "cfaccess.caller"

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches the next handler with its core.Caller both in fiber's
// Locals (see Caller) and in c.Context() (see core.FromContext).
func Middleware(v *core.Verifier, opts ...Option) fiber.Handler {
	cfg := newConfig(opts)
	guard := core.MiddlewareGuard(v, cfg.guard...)
	return func(c fiber.Ctx) error {
		if cfg.skip != nil && cfg.skip(c) {
			return c.Next()
		}
		ctx := c.Context()
		d := guard.Check(ctx, request{c.RequestCtx()})
		if !d.Allowed() {
			return cfg.refuse(c, d)
		}
		c.RequestCtx().SetUserValue(CallerKey, d.Caller)
		c.SetContext(core.ContextWithCaller(ctx, d.Caller))
		return c.Next()
	}
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware,
// which puts the caller in the request's context; without one the answer is 401. A policy
// built with a mistake (see core.Policy.Err) is logged now and refuses every request (503).
func Require(p core.Policy, opts ...Option) fiber.Handler {
	cfg := newConfig(opts)
	p = core.MiddlewarePolicy(p)
	return func(c fiber.Ctx) error {
		if d := core.Authorize(c.Context(), p); !d.Allowed() {
			return cfg.refuse(c, d)
		}
		return c.Next()
	}
}

// RequireGroups is Require(core.Groups(groups...)): members of any of the groups may pass.
func RequireGroups(groups ...string) fiber.Handler {
	return Require(core.Groups(groups...))
}

// Caller returns the verified caller of c, if Middleware let it through.
func Caller(c fiber.Ctx) (*core.Caller, bool) {
	caller, ok := c.RequestCtx().UserValue(CallerKey).(*core.Caller)
	return caller, ok && caller != nil
}

// Claims returns the verified claims of c's caller, if Middleware let it through.
func Claims(c fiber.Ctx) (*core.Claims, bool) {
	if caller, ok := Caller(c); ok {
		return caller.Claims, true
	}
	return nil, false
}

// Identity returns the identity of c's caller from get-identity, looked up on first use and
// cached (see core.Caller.Identity). Without a caller it returns the error of
// core.IdentityFromContext.
func Identity(c fiber.Ctx) (*core.Identity, error) {
	if caller, ok := Caller(c); ok {
		return caller.Identity(c.Context())
	}
	return core.IdentityFromContext(c.Context())
}

// WriteError answers with err as the middleware answers a refusal: for handlers that meet an
// error of cfaccess, such as Identity's for a service token (403) or an outage (503).
func WriteError(c fiber.Ctx, err error) error { return write(c, core.ErrorResponse(err)) }

// write renders r in fiber's idiom: the whole of what this adapter knows about responses.
func write(c fiber.Ctx, r core.Response) error {
	for k, v := range r.Headers() {
		c.Set(k, v)
	}
	c.Status(r.Status)
	if r.Body == nil {
		return nil
	}
	return c.Send(r.Body)
}
