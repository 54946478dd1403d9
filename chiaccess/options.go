package chiaccess

import (
	"net/http"

	"github.com/cfaccess/cfaccess/core"
)

// Option configures Middleware and Require.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	guard   []core.GuardOption
	skip    func(*http.Request) bool
	onError func(http.ResponseWriter, *http.Request, *core.Error)
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
func WithSkipper(skip func(*http.Request) bool) Option {
	return optionFunc(func(c *config) { c.skip = skip })
}

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()). Login redirects are not passed to it.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err *core.Error)) Option {
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
func (c *config) refuse(w http.ResponseWriter, r *http.Request, d core.Decision) {
	if c.onError != nil && d.Redirect == "" {
		c.onError(w, r, d.Err)
		return
	}
	d.Response().Write(w)
}
