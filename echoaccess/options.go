package echoaccess

import (
	"github.com/labstack/echo/v4"

	"github.com/cfaccess/cfaccess/core"
)

// Option configures Middleware and Require.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	guard   []core.GuardOption
	skip    func(echo.Context) bool
	onError func(echo.Context, *core.Error) error
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
func WithSkipper(skip func(c echo.Context) bool) Option {
	return optionFunc(func(c *config) { c.skip = skip })
}

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()). The error h returns is the middleware's, and so reaches echo's
// HTTPErrorHandler: return nil once h has answered, or an error for echo to render. Login
// redirects are not passed to h.
func WithErrorHandler(h func(c echo.Context, err *core.Error) error) Option {
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

// refuse answers a refused request. The default answer is written here and nil returned:
// an echo.HTTPError would let echo's HTTPErrorHandler rewrite core's status, headers and body.
func (c *config) refuse(ec echo.Context, d core.Decision) error {
	if c.onError != nil && d.Redirect == "" {
		return c.onError(ec, d.Err)
	}
	d.Response().Write(ec.Response())
	return nil
}
