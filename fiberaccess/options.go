package fiberaccess

import (
	"github.com/gofiber/fiber/v3"

	"github.com/cfaccess/cfaccess/core"
)

// Option configures Middleware and Require.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	guard   []core.GuardOption
	skip    func(fiber.Ctx) bool
	onError func(fiber.Ctx, *core.Error) error
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// WithSkipper lets the requests for which skip returns true through without a token, and
// without a caller in their context: health checks, for instance.
func WithSkipper(skip func(c fiber.Ctx) bool) Option {
	return optionFunc(func(c *config) { c.skip = skip })
}

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()); the handler's error is returned to fiber, which passes it to the app's
// ErrorHandler. Login redirects are not passed to it.
func WithErrorHandler(h func(c fiber.Ctx, err *core.Error) error) Option {
	return optionFunc(func(c *config) { c.onError = h })
}

// WithLoginRedirect sends browsers that navigate to a page without a valid session to the
// Access login page (see core.WithLoginRedirect). API clients still get 401.
func WithLoginRedirect() Option {
	return optionFunc(func(c *config) { c.guard = append(c.guard, core.WithLoginRedirect()) })
}

// WithObserver calls f with every decision of Middleware (see core.WithObserver).
func WithObserver(f func(core.Event)) Option {
	return optionFunc(func(c *config) { c.guard = append(c.guard, core.WithObserver(f)) })
}

// refuse answers a refused request.
func (c *config) refuse(ctx fiber.Ctx, d core.Decision) error {
	if c.onError != nil && d.Redirect == "" {
		return c.onError(ctx, d.Err)
	}
	return write(ctx, d.Response())
}
