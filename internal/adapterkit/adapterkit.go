// Package adapterkit is the part of every adapter that does not depend on its framework but
// for the type of the framework's request, R: the options of Middleware and Require, sealed,
// and the guard and requirement they configure. Each adapter declares its own Option types
// over these (an interface that embeds one of them, so that only this package can implement
// it) and one-line With… functions, whose documentation is the adapter's; everything else is
// written here once.
package adapterkit

import (
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// Config is what the options of one Middleware or Require set.
type Config[R any] struct {
	Skip          func(R) bool
	LoginRedirect bool
	Optional      bool
	OnError       func(R, *core.Error) error // nil from the handlers of frameworks whose handlers return nothing
	Observe       func(core.Event)
}

// Option configures a Middleware.
type Option[R any] interface{ applyMiddleware(*Config[R]) }

// RequireOption configures a Require.
type RequireOption[R any] interface{ applyRequire(*Config[R]) }

// SharedOption configures both.
type SharedOption[R any] interface {
	Option[R]
	RequireOption[R]
}

type middlewareOption[R any] func(*Config[R])

func (f middlewareOption[R]) applyMiddleware(c *Config[R]) { f(c) }

type sharedOption[R any] func(*Config[R])

func (f sharedOption[R]) applyMiddleware(c *Config[R]) { f(c) }
func (f sharedOption[R]) applyRequire(c *Config[R])    { f(c) }

// WithSkipper is every adapter's WithSkipper.
func WithSkipper[R any](skip func(R) bool) Option[R] {
	return middlewareOption[R](func(c *Config[R]) { c.Skip = skip })
}

// WithLoginRedirect is every adapter's WithLoginRedirect.
func WithLoginRedirect[R any]() Option[R] {
	return middlewareOption[R](func(c *Config[R]) { c.LoginRedirect = true })
}

// WithOptionalAuth is every adapter's WithOptionalAuth.
func WithOptionalAuth[R any]() Option[R] {
	return middlewareOption[R](func(c *Config[R]) { c.Optional = true })
}

// WithErrorHandler is every adapter's WithErrorHandler.
func WithErrorHandler[R any](h func(R, *core.Error) error) SharedOption[R] {
	return sharedOption[R](func(c *Config[R]) { c.OnError = h })
}

// WithObserver is every adapter's WithObserver.
func WithObserver[R any](f func(core.Event)) SharedOption[R] {
	return sharedOption[R](func(c *Config[R]) { c.Observe = f })
}

// Middleware applies opts, skipping nil ones, and returns them with the guard of a
// Middleware over v.
func Middleware[R any, O Option[R]](v *core.Verifier, opts []O) (*Config[R], *adapter.Guard) {
	c := &Config[R]{}
	for _, o := range opts {
		if any(o) != nil {
			o.applyMiddleware(c)
		}
	}
	g := []adapter.Option{adapter.WithObserver(c.Observe)}
	if c.LoginRedirect {
		g = append(g, adapter.WithLoginRedirect())
	}
	if c.Optional {
		g = append(g, adapter.WithOptionalAuth())
	}
	return c, adapter.MiddlewareGuard(v, g...)
}

// Require applies opts, skipping nil ones, and returns them with the requirement of p.
func Require[R any, O RequireOption[R]](p core.Policy, opts []O) (*Config[R], *adapter.Requirement) {
	c := &Config[R]{}
	for _, o := range opts {
		if any(o) != nil {
			o.applyRequire(c)
		}
	}
	return c, adapter.NewRequirement(p, adapter.WithObserver(c.Observe))
}

// ErrorHandler returns the error handler that answers d, a refusal: the one the options set,
// unless d is a login redirect, which it never handles; nil when the default answer,
// d.Response(), is due.
func (c *Config[R]) ErrorHandler(d adapter.Decision) func(R, *core.Error) error {
	if d.Redirect != "" {
		return nil
	}
	return c.OnError
}
