package fiberaccess

import (
	"github.com/gofiber/fiber/v3"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
)

// Option configures Middleware.
type Option interface {
	adapterkit.Option[fiber.Ctx]
}

// RequireOption configures Require and RequireGroups.
type RequireOption interface {
	adapterkit.RequireOption[fiber.Ctx]
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
func WithSkipper(skip func(c fiber.Ctx) bool) Option { return adapterkit.WithSkipper(skip) }

// WithLoginRedirect sends browsers that navigate to a page without a valid session to the
// Access login page (see adapter.WithLoginRedirect). API clients still get 401.
func WithLoginRedirect() Option { return adapterkit.WithLoginRedirect[fiber.Ctx]() }

// WithOptionalAuth lets a request that carries no token at all through with no caller, for
// the paths that an Access policy bypasses: handlers see no caller, and a Require after the
// middleware answers such a request 401 missing_token. A request that carries a token still
// needs a valid one: a bad or expired token is refused (401, or the login redirect with
// WithLoginRedirect), and an outage is a 503.
func WithOptionalAuth() Option { return adapterkit.WithOptionalAuth[fiber.Ctx]() }

// WithErrorHandler replaces the default rendering of refusals (a JSON body with the status
// of err.Status()), misconfigurations included; the handler's error is returned to fiber,
// which passes it to the app's ErrorHandler. Login redirects are not passed to it.
func WithErrorHandler(h func(c fiber.Ctx, err *core.Error) error) SharedOption {
	return adapterkit.WithErrorHandler(h)
}

// WithObserver calls f with every decision of the Middleware or Require it is given to (see
// core.LogEvents for a ready one). Give it to both to see route-level refusals too.
func WithObserver(f func(core.Event)) SharedOption { return adapterkit.WithObserver[fiber.Ctx](f) }
