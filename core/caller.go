package core

import (
	"context"
	"sync/atomic"

	"github.com/cfaccess/cfaccess/internal/ctxkey"
)

// Caller is who made a request: its verified claims, and its identity, looked up on demand.
// A Caller is immutable and shared: every request that carries the same token gets the same
// one (it lives in the verified-token cache, so a request costs no allocation for it). It
// owns a copy of its token, so it stays valid after the request, whatever the framework does
// with its buffers; the identity cache keys its entries by that same copy.
type Caller struct {
	// Claims are the caller's verified token. They are never nil in a Caller that a
	// middleware or Authenticate returns.
	Claims *Claims

	v       *Verifier
	token   string
	tokenID string    // TokenID(token), once per token rather than once per event
	id      *Identity // NewCaller's fixed identity

	attrGroups atomic.Pointer[attributeGroups] // GroupsAttribute's groups, per identity
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

var errNotVerifiedHere = &Error{Code: CodeUnavailable, Reason: ReasonIdentityUnavailable,
	Message: "this caller was not verified here"}

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
	return nil, errNotVerifiedHere
}

// TokenID returns TokenID of the caller's token, the ID its events carry, to match a
// handler's log lines to them; "" for a Caller made by NewCaller.
func (c *Caller) TokenID() string { return c.tokenID }

// ServiceTokenName returns the name that Config.ServiceTokenNames gives the caller's client
// ID, or "" for a user or a service token it does not name.
func (c *Caller) ServiceTokenName() string {
	if c.v == nil || !c.Claims.IsServiceToken() {
		return ""
	}
	return c.v.cfg.serviceTokenNames[c.Claims.CommonName]
}

// Groups returns the caller's identity-provider groups, from where Config.Groups says: the
// token's custom claim (GroupsClaim) when the token carries it; otherwise get-identity, in
// the field that GroupsAttribute names, or, for a claim Access trimmed from the token, in
// the attribute of that name when get-identity has one and else in its "groups" list. A
// service token has none, and no error.
func (c *Caller) Groups(ctx context.Context) ([]Group, error) {
	if c.Claims.IsServiceToken() {
		return nil, nil
	}
	if c.v == nil && c.id == nil || c.v != nil && c.Claims.groupsInToken {
		return c.Claims.Groups, nil
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return nil, err
	}
	if c.v == nil || c.v.cfg.groups.kind == sourceIdentity {
		return id.Groups, nil
	}
	// An attribute, or a claim that Access trimmed from the token: get-identity keeps every
	// attribute, under saml_attributes or oidc_fields for the providers that deliver groups
	// that way, and the claim's groups may be its top-level list (Okta, Entra ID…).
	groups, found := c.groupsFromAttribute(id, c.v.cfg.groups.name)
	if !found && c.v.cfg.groups.kind == sourceClaim {
		return id.Groups, nil
	}
	return groups, nil
}

// ContextWithCaller returns a copy of ctx that carries c. Every adapter's middleware stores
// the caller this way, so that CallerFromContext works in any handler; a test does the same
// to give a handler a caller without a network (see NewCaller). A nil c says that the
// request has no caller: a middleware saw it and let it through without one, and a route
// requirement then answers 401.
func ContextWithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, ctxkey.Caller{}, c)
}

// CallerFromContext returns the caller stored by ContextWithCaller, if any: a non-nil
// Caller with non-nil Claims. Its Claims are the verified token; its Identity is looked up
// on demand:
//
//	if c, ok := core.CallerFromContext(r.Context()); ok {
//		log.Printf("request from %s", c.Claims.Email)
//	}
func CallerFromContext(ctx context.Context) (*Caller, bool) {
	c, _ := ctx.Value(ctxkey.Caller{}).(*Caller)
	if c == nil || c.Claims == nil {
		return nil, false
	}
	return c, true
}
