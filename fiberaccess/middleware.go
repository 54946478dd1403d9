package fiberaccess

import (
	"github.com/gofiber/fiber/v3"

	"github.com/cfaccess/cfaccess/core"
)

// CallerKey is the key of the *core.Caller in fiber's Locals, for handlers that prefer
// fiber's own idiom: c.Locals(fiberaccess.CallerKey).(*core.Caller). The middleware keeps it
// there as a copy; Caller, Claims, Identity and Require read c.Context().
const CallerKey = "cfaccess.caller"

// Middleware verifies the Access token of every request and refuses those without a valid
// one. An allowed request reaches the next handler with its core.Caller in c.Context() (see
// Caller), in fiber's Locals (see CallerKey), and where the fiber.Ctx itself, as a
// context.Context, finds it: core.FromContext(c) works as core.FromContext(c.Context()) does.
//
// Configure the app with fiber.Config{ReadBufferSize: core.MaxHeaderBytes(cfg.MaxTokenSize)}:
// with fiber's default 4 KiB, a token of a few KB, which Access sends as a header and again as
// a cookie, is answered 431 by fiber before the middleware runs (see the package doc).
//
// The middleware writes to the fasthttp user values that back Locals directly, as c.Locals
// does itself: c.Locals(key, value) would put value in a variadic slice that escapes through
// the interface call, an allocation per request for nothing.
func Middleware(v *core.Verifier, opts ...Option) fiber.Handler {
	cfg := configure(opts, Option.applyMiddleware)
	guard := core.MiddlewareGuard(v, cfg.guardOptions()...)
	return func(c fiber.Ctx) error {
		if cfg.skip != nil && cfg.skip(c) {
			return pass(c, nil)
		}
		d := guard.Check(c.Context(), request{c.RequestCtx()})
		if !d.Allowed() {
			return cfg.refuse(c, d)
		}
		return pass(c, d.Caller) // nil when WithOptionalAuth let a request without a token through
	}
}

// pass hands the request on with caller. A nil caller still marks the request as seen, in
// c.Context() and where c.Value reads, so that a requirement after this answers 401, not
// 500; fiber's Locals then hold nothing under CallerKey.
func pass(c fiber.Ctx, caller *core.Caller) error {
	rc := c.RequestCtx()
	if caller != nil {
		rc.SetUserValue(CallerKey, caller)
	}
	rc.SetUserValue(core.ContextKey(), caller) // what c.Value reads: core.FromContext(c)
	c.SetContext(core.ContextWithCaller(c.Context(), caller))
	return c.Next()
}

// Require refuses, with 403, callers that p does not allow. It must come after Middleware:
// on a request that no Middleware saw, the route is misconfigured, and the answer is 500
// (logged once, with the fix). A policy built with a mistake (see core.Policy.Err) is
// answered 500 too.
func Require(p core.Policy, opts ...RequireOption) fiber.Handler {
	cfg := configure(opts, RequireOption.applyRequire)
	q := core.NewRequirement(p, core.RequirementObserver(cfg.observe))
	return func(c fiber.Ctx) error {
		if d := q.Check(c.Context(), request{c.RequestCtx()}); !d.Allowed() {
			return cfg.refuse(c, d)
		}
		return c.Next()
	}
}

// RequireGroups is Require(core.Groups(group), opts...): members of the group may pass.
// For any of several groups, use Require(core.Groups("admins", "ops")).
func RequireGroups(group string, opts ...RequireOption) fiber.Handler {
	return Require(core.Groups(group), opts...)
}

// Caller returns the verified caller of c, if Middleware let it through with one. It reads
// c.Context() (core.CallerFromContext), where a test can put a caller too
// (c.SetContext(core.ContextWithCaller(…))).
func Caller(c fiber.Ctx) (*core.Caller, bool) {
	return core.CallerFromContext(c.Context())
}

// Claims returns the verified claims of c's caller (see Caller).
func Claims(c fiber.Ctx) (*core.Claims, bool) {
	return core.FromContext(c.Context())
}

// Identity returns the identity of c's caller (see Caller) from get-identity, looked up on
// first use and cached (see core.IdentityFromContext for the errors).
func Identity(c fiber.Ctx) (*core.Identity, error) {
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
