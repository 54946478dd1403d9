package core

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Caller is who made a request: its verified claims, and its identity, looked up on demand.
// A Caller is immutable and shared: every request that carries the same token gets the same
// one (it lives in the verified-token cache, so a request costs no allocation for it). It
// owns a copy of its token, so it stays valid after the request, whatever the framework does
// with its buffers; the identity cache keys its entries by that same copy.
type Caller struct {
	// Claims are the caller's verified token. They are never nil in a Caller that an
	// accessor returns.
	Claims *Claims

	v     *Verifier
	token string
	id    *Identity // NewCaller's fixed identity

	attrGroups atomic.Pointer[attributeGroups] // Config.GroupsAttribute's groups, per identity
}

// NewCaller returns a Caller with the given claims and, optionally, identity, for tests of
// handlers and for integrations that verify tokens themselves. Its Identity is id, or an
// error ([ErrUnavailable]) when id is nil; its Groups are id's groups, or, without id,
// c.Groups. Put it in a request's context with ContextWithCaller, and every accessor and
// route requirement of cfaccess finds it, with no network:
//
//	caller := core.NewCaller(&core.Claims{Email: "ann@example.com"},
//		&core.Identity{Email: "ann@example.com", Groups: []core.Group{{Name: "admins"}}})
//	req = req.WithContext(core.ContextWithCaller(req.Context(), caller))
func NewCaller(c *Claims, id *Identity) *Caller {
	return &Caller{Claims: c, id: id}
}

// Identity returns the caller's identity from get-identity: from the Verifier's cache when
// this token's identity was looked up lately, otherwise looked up now, with one call however
// many requests of the token ask at once. A service token has none ([ErrForbidden],
// [ReasonServiceToken]).
func (c *Caller) Identity(ctx context.Context) (*Identity, error) {
	switch {
	case c.v != nil && c.Claims != nil:
		return c.v.identity(ctx, c)
	case c.id != nil:
		return c.id, nil
	}
	return nil, unavailable(ReasonIdentityUnavailable, "this caller was not verified here", nil)
}

// Groups returns the caller's identity-provider groups: from the token when
// Config.GroupsClaim is set, otherwise from get-identity, in the field that
// Config.GroupsAttribute names or else in its "groups" list. A service token has none.
func (c *Caller) Groups(ctx context.Context) ([]Group, error) {
	switch {
	case c.Claims.IsServiceToken():
		return nil, nil
	case c.v == nil && c.id == nil, c.v != nil && c.v.cfg.groupsClaim != "":
		return c.Claims.Groups, nil
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	if c.v != nil && c.v.cfg.groupsAttribute != "" {
		return c.groupsFromAttribute(id, c.v.cfg.groupsAttribute), nil
	}
	return id.Groups, nil
}

type callerKey struct{}

// ContextKey returns the key under which ContextWithCaller stores the caller in a
// context.Context. Only adapters need it: those of frameworks whose request object is itself
// a context.Context reading a store of its own (fiber's Ctx reads fasthttp's user values)
// store the caller there under this key too, so that FromContext works on that object. Its
// type is unexported, so it collides with no other package's key.
func ContextKey() any { return callerKey{} }

// ContextWithCaller returns a copy of ctx that carries c. Every adapter's middleware stores
// the caller this way, as well as in its framework's own store, so that FromContext,
// CallerFromContext and IdentityFromContext work in any handler; a test can do the same to
// give a handler a caller without a network (see NewCaller).
//
// A nil c marks the request as seen by an authenticating middleware that let it through
// without a caller (a route its skipper skips): a route requirement then answers 401
// [CodeMissingToken]. Without either mark, a requirement knows that no middleware ran, and
// answers 500 [CodeMisconfigured].
func ContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerState reads ctx's mark: the caller, if any, and whether an authenticating middleware
// (or a test, through ContextWithCaller) has seen the request at all.
func callerState(ctx context.Context) (c *Caller, seen bool) {
	c, seen = ctx.Value(callerKey{}).(*Caller)
	if c != nil && c.Claims == nil {
		c = nil
	}
	return c, seen
}

// CallerFromContext returns the caller stored by ContextWithCaller, if any: a non-nil
// Caller with non-nil Claims. Every adapter's Caller accessor is this, on the request's
// context.
func CallerFromContext(ctx context.Context) (*Caller, bool) {
	c, _ := callerState(ctx)
	return c, c != nil
}

// NewContext returns a copy of ctx carrying a caller with claims c and no identity: a short
// way to set up a handler's test. For a handler that reads the identity too, use
// ContextWithCaller(ctx, NewCaller(c, id)).
func NewContext(ctx context.Context, c *Claims) context.Context {
	return ContextWithCaller(ctx, NewCaller(c, nil))
}

// IdentityFromContext returns the identity of the request's caller (see Caller.Identity).
// When the middleware let the request through without a caller (a skipped route) the error
// is [ErrMissingToken] with [ReasonNoCaller]. When no authenticating middleware saw the
// request at all, the handler's route is misconfigured: the error is [ErrMisconfigured] with
// [ReasonNoMiddleware], logged once by the process to slog.Default.
func IdentityFromContext(ctx context.Context) (*Identity, error) {
	c, seen := callerState(ctx)
	switch {
	case c != nil:
		return c.Identity(ctx)
	case seen:
		return nil, errNoCaller
	}
	err := misconfigured(ReasonNoMiddleware, nil)
	if !identityMisuseLogged.Swap(true) {
		slog.Default().Error("cfaccess: a handler asked for the caller's identity on a request that no cfaccess middleware saw; answered 500",
			"reason", string(err.Reason), "fix", "put the cfaccess middleware before the handler, on the route or on a group that holds it")
	}
	return nil, err
}

// identityMisuseLogged makes IdentityFromContext log its misconfiguration once per process:
// unlike a middleware or a requirement, it has no value of its own to remember it in.
var identityMisuseLogged atomic.Bool

// FromContext returns the verified claims of the request's caller, if any.
func FromContext(ctx context.Context) (*Claims, bool) {
	if c, ok := CallerFromContext(ctx); ok {
		return c.Claims, true
	}
	return nil, false
}
