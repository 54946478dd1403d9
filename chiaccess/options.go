package chiaccess

import (
	"net/http"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// call is one request as the options see it.
type call struct {
	w http.ResponseWriter
	r *http.Request
}

// Option configures Middleware.
type Option interface{ adapterkit.Option[call] }

// RequireOption configures Require and RequireGroups.
type RequireOption interface{ adapterkit.RequireOption[call] }

// SharedOption configures Middleware and Require alike: it is both an Option and a
// RequireOption. WithErrorHandler and WithObserver return one.
type SharedOption interface {
	Option
	RequireOption
}

// WithSkipper lets the requests for which skip returns true through without a token, and
// without a caller: health checks, for instance. A requirement after the middleware answers
// such a request 401 missing_token.
func WithSkipper(skip func(*http.Request) bool) Option {
	return adapterkit.WithSkipper(func(c call) bool { return skip(c.r) })
}

// WithLoginRedirect sends browsers that navigate to a page without a valid session to the
// Access login page (see adapter.WithLoginRedirect). API clients still get 401.
func WithLoginRedirect() Option { return adapterkit.WithLoginRedirect[call]() }

// WithOptionalAuth lets a request that carries no token at all through with no caller, for
// the paths that an Access policy bypasses: handlers see no caller, and a Require after the
// middleware answers such a request 401 missing_token. A request that carries a token still
// needs a valid one: a bad or expired token is refused (401, or the login redirect with
// WithLoginRedirect), and an outage is a 503.
func WithOptionalAuth() Option { return adapterkit.WithOptionalAuth[call]() }

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()), misconfigurations included. Login redirects are not passed to it.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err *core.Error)) SharedOption {
	return adapterkit.WithErrorHandler(func(c call, err *core.Error) error { h(c.w, c.r, err); return nil })
}

// WithObserver calls f with every decision of the Middleware or Require it is given to (see
// core.LogEvents for a ready one). Give it to both to see route-level refusals too.
func WithObserver(f func(core.Event)) SharedOption { return adapterkit.WithObserver[call](f) }
