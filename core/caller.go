package core

import (
	"context"
)

// Caller is who made a request: its verified claims, and its identity, looked up on demand.
// A Caller is immutable and shared: every request that carries the same token gets the same
// one (it lives in the verified-token cache, so a request costs no allocation for it). It
// owns a copy of its token, so it stays valid after the request, whatever the framework does
// with its buffers; the identity cache keys its entries by that same copy.
type Caller struct {
	Claims *Claims

	v     *Verifier
	token string
	id    *Identity // NewCaller's fixed identity
}

// NewCaller returns a Caller with the given claims and, optionally, identity, for tests of
// handlers and for integrations that verify tokens themselves. Its Identity is id, or an
// error when id is nil.
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
// Config.GroupsClaim is set, otherwise from get-identity. A service token has none.
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
	return id.Groups, nil
}

type callerKey struct{}

// ContextWithCaller returns a copy of ctx that carries c. Every adapter stores the caller
// this way, as well as in its framework's own store, so that FromContext and
// CallerFromContext work in any handler.
func ContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller stored by ContextWithCaller, if any.
func CallerFromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil && c.Claims != nil
}

// NewContext returns a copy of ctx carrying a caller with claims c and no identity: a short
// way to set up a handler's test.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return ContextWithCaller(ctx, NewCaller(c, nil))
}

// IdentityFromContext returns the identity of the request's caller (see Caller.Identity).
// Without a caller in ctx the error is [ErrMissingToken] with [ReasonNoCaller].
func IdentityFromContext(ctx context.Context) (*Identity, error) {
	c, ok := CallerFromContext(ctx)
	if !ok {
		return nil, errNoCaller
	}
	return c.Identity(ctx)
}

// FromContext returns the verified claims of the request's caller, if any.
func FromContext(ctx context.Context) (*Claims, bool) {
	if c, ok := CallerFromContext(ctx); ok {
		return c.Claims, true
	}
	return nil, false
}
