package ginaccess

import (
	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// Option configures Middleware.
type Option interface {
	adapterkit.Option[*gin.Context]
}

// RequireOption configures Require and RequireGroups.
type RequireOption interface {
	adapterkit.RequireOption[*gin.Context]
}

// SharedOption configures Middleware and Require alike: it is both an Option and a
// RequireOption. WithErrorHandler and WithObserver return one.
type SharedOption interface {
	Option
	RequireOption
}

// WithSkipper lets the requests for which skip returns true through without a token, and
// without a caller: health checks, for instance. A requirement after the middleware answers
// such a request 401 missing_token.
func WithSkipper(skip func(c *gin.Context) bool) Option { return adapterkit.WithSkipper(skip) }

// WithLoginRedirect sends browsers that navigate to a page without a valid session to the
// Access login page (see adapter.WithLoginRedirect). API clients still get 401.
func WithLoginRedirect() Option { return adapterkit.WithLoginRedirect[*gin.Context]() }

// WithOptionalAuth lets a request that carries no token at all through with no caller, for
// the paths that an Access policy bypasses: handlers see no caller, and a Require after the
// middleware answers such a request 401 missing_token. A request that carries a token still
// needs a valid one: a bad or expired token is refused (401, or the login redirect with
// WithLoginRedirect), and an outage is a 503.
func WithOptionalAuth() Option { return adapterkit.WithOptionalAuth[*gin.Context]() }

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()), misconfigurations included. Login redirects are not passed to it. The
// chain is aborted before h runs, so h cannot let a refused request through.
func WithErrorHandler(h func(c *gin.Context, err *core.Error)) SharedOption {
	return adapterkit.WithErrorHandler(func(c *gin.Context, err *core.Error) error { h(c, err); return nil })
}

// WithObserver calls f with every decision of the Middleware or Require it is given to (see
// core.LogEvents for a ready one). Give it to both to see route-level refusals too.
func WithObserver(f func(core.Event)) SharedOption { return adapterkit.WithObserver[*gin.Context](f) }
