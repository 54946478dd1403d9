package ginaccess

import (
	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
)

// Option configures Middleware and Require.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	guard   []core.GuardOption
	skip    func(*gin.Context) bool
	onError func(*gin.Context, *core.Error)
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
func WithSkipper(skip func(c *gin.Context) bool) Option {
	return optionFunc(func(c *config) { c.skip = skip })
}

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()). Login redirects are not passed to it. The chain is aborted before h
// runs, so h cannot let a refused request through.
func WithErrorHandler(h func(c *gin.Context, err *core.Error)) Option {
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
func (cfg *config) refuse(c *gin.Context, d core.Decision) {
	if cfg.onError != nil && d.Redirect == "" {
		c.Abort()
		cfg.onError(c, d.Err)
		return
	}
	abort(c, d.Response())
}

// abort writes r through gin's own writer, so that gin's logger and outer middleware see its
// status, and stops the chain.
func abort(c *gin.Context, r core.Response) {
	for k, v := range r.Headers() {
		c.Header(k, v)
	}
	if r.Body == nil { // a redirect; c.Data would add an empty Content-Type
		c.AbortWithStatus(r.Status)
		return
	}
	c.Abort()
	c.Data(r.Status, c.Writer.Header().Get("Content-Type"), r.Body)
}
