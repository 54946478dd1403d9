package fiber2access

import (
	"github.com/gofiber/fiber/v2"

	"github.com/cfaccess/cfaccess/core"
)

// Option configures Middleware.
type Option interface{ applyMiddleware(*config) }

// RequireOption configures Require and RequireGroups.
type RequireOption interface{ applyRequire(*config) }

// SharedOption configures Middleware and Require alike: it is both an Option and a
// RequireOption. WithErrorHandler and WithObserver return one.
type SharedOption interface {
	Option
	RequireOption
}

type config struct {
	skip          func(*fiber.Ctx) bool
	loginRedirect bool
	optional      bool
	onError       func(*fiber.Ctx, *core.Error) error
	observe       func(core.Event)
}

type middlewareOption func(*config)

func (f middlewareOption) applyMiddleware(c *config) { f(c) }

type sharedOption func(*config)

func (f sharedOption) applyMiddleware(c *config) { f(c) }
func (f sharedOption) applyRequire(c *config)    { f(c) }

// configure applies opts, skipping nil ones, with apply: Option.applyMiddleware or
// RequireOption.applyRequire.
func configure[O comparable](opts []O, apply func(O, *config)) *config {
	c := &config{}
	var none O
	for _, o := range opts {
		if o != none {
			apply(o, c)
		}
	}
	return c
}

// WithSkipper lets the requests for which skip returns true through without a token, and
// without a caller: health checks, for instance. A requirement after the middleware answers
// such a request 401 missing_token.
func WithSkipper(skip func(c *fiber.Ctx) bool) Option {
	return middlewareOption(func(c *config) { c.skip = skip })
}

// WithLoginRedirect sends browsers that navigate to a page without a valid session to the
// Access login page (see core.GuardLoginRedirect). API clients still get 401.
func WithLoginRedirect() Option {
	return middlewareOption(func(c *config) { c.loginRedirect = true })
}

// WithOptionalAuth lets a request that carries no token at all through with no caller, for
// the paths that an Access policy bypasses (see core.GuardOptionalAuth): handlers see no
// caller, and a Require after the middleware answers such a request 401 missing_token. A
// request that carries a token still needs a valid one: a bad or expired token is refused
// (401, or the login redirect with WithLoginRedirect), and an outage is a 503.
func WithOptionalAuth() Option {
	return middlewareOption(func(c *config) { c.optional = true })
}

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()), misconfigurations included; the handler's error is returned to fiber,
// which passes it to the app's ErrorHandler. Login redirects are not passed to it.
func WithErrorHandler(h func(c *fiber.Ctx, err *core.Error) error) SharedOption {
	return sharedOption(func(c *config) { c.onError = h })
}

// WithObserver calls f with every decision of the Middleware or Require it is given to (see
// core.LogEvents for a ready one). Give it to both to see route-level refusals too.
func WithObserver(f func(core.Event)) SharedOption {
	return sharedOption(func(c *config) { c.observe = f })
}

func (c *config) guardOptions() []core.GuardOption {
	opts := []core.GuardOption{core.GuardObserver(c.observe)}
	if c.loginRedirect {
		opts = append(opts, core.GuardLoginRedirect())
	}
	if c.optional {
		opts = append(opts, core.GuardOptionalAuth())
	}
	return opts
}

// refuse answers a refused request.
func (c *config) refuse(ctx *fiber.Ctx, d core.Decision) error {
	if c.onError != nil && d.Redirect == "" {
		return c.onError(ctx, d.Err)
	}
	return write(ctx, d.Response())
}
