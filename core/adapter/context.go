package adapter

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/ctxkey"
)

// ContextKey returns the key under which core.ContextWithCaller stores the caller in a
// context.Context. Adapters of frameworks whose request object is itself a context.Context
// reading a store of its own (fiber's Ctx reads fasthttp's user values) store the caller
// there under this key too, so that core.CallerFromContext works on that object. Its type
// is unexported, so it collides with no other package's key.
func ContextKey() any { return ctxkey.Caller{} }

// Accessors read back the caller that a middleware stored in a request's context, for an
// adapter's Caller, Claims and Identity functions. A read on a request that no middleware
// saw is a mistake of the application's (the middleware forgotten, or, in gin and fiber,
// registered after the routes): it is logged once, at Error, through slog.Default, with
// Fix. Declare one per adapter, as a package variable.
type Accessors struct {
	Fix    string // how to put the middleware in front of the handler, in the framework's terms
	logged atomic.Bool
}

// Caller returns the request's verified caller, if the middleware let it through with one.
func (a *Accessors) Caller(ctx context.Context) (*core.Caller, bool) {
	c, seen := callerState(ctx)
	if !seen {
		a.misconfigured()
	}
	return c, c != nil
}

// Claims returns the verified claims of the request's caller (see Caller).
func (a *Accessors) Claims(ctx context.Context) (*core.Claims, bool) {
	if c, ok := a.Caller(ctx); ok {
		return c.Claims, true
	}
	return nil, false
}

// Identity returns the identity of the request's caller (see core.Caller.Identity). When
// the middleware let the request through without a caller (a skipped or optional route)
// the error is core.ErrMissingToken with core.ReasonNoCaller. When no middleware saw the
// request at all, the error is core.ErrMisconfigured with core.ReasonNoMiddleware, logged
// once.
func (a *Accessors) Identity(ctx context.Context) (*core.Identity, error) {
	c, seen := callerState(ctx)
	switch {
	case c != nil:
		return c.Identity(ctx)
	case seen:
		return nil, errNoCaller
	}
	a.misconfigured()
	return nil, misconfigured(core.ReasonNoMiddleware, nil)
}

func (a *Accessors) misconfigured() {
	if !a.logged.Swap(true) {
		slog.Default().Error("cfaccess: a handler asked for the caller of a request that no cfaccess middleware saw; it has none",
			"reason", string(core.ReasonNoMiddleware), "fix", a.Fix)
	}
}
