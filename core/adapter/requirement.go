package adapter

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/ctxkey"
)

// Requirement is a route-level authorization: it applies a policy to the caller that an
// authenticating middleware (built on a Guard) stored in the request's context before it.
// The adapters' Require functions are built on it. Build one with NewRequirement; it is safe
// for concurrent use.
type Requirement struct {
	policy  core.Policy
	observe func(core.Event)
	logged  atomic.Bool // a misconfiguration has been logged: once is enough
}

// NewRequirement returns a requirement of p. It returns no error, for adapters whose route
// constructors return none: a policy built with a mistake (see core.Policy.Err) is logged
// now, where the route is registered, once, at Error, through slog.Default, and makes a
// requirement that refuses every request with 500 and core.CodeMisconfigured.
func NewRequirement(p core.Policy, opts ...RequirementOption) *Requirement {
	q := &Requirement{policy: p}
	for _, o := range opts {
		if o != nil {
			o.applyRequirement(q)
		}
	}
	if err := p.Err(); err != nil {
		q.logOnce(nil, misconfigured(core.ReasonInvalidPolicy, err), "correct the policy given to the route requirement")
	}
	return q
}

// Check decides about the request r, whose context is ctx:
//
//   - with a caller in ctx (see core.ContextWithCaller), the policy decides: 403 when it
//     says no;
//   - when the middleware let the request through without a caller (a route its skipper
//     skips), the answer is 401 core.CodeMissingToken: a token is needed here;
//   - when no authenticating middleware saw the request at all, the route is
//     misconfigured: 500 core.CodeMisconfigured, logged once with the fix.
//
// A policy built with a mistake is 500 core.CodeMisconfigured whatever the request. r is
// only read to name the route in the log line.
func (q *Requirement) Check(ctx context.Context, r Request) Decision {
	var start time.Time
	if q.observe != nil {
		start = time.Now()
	}
	c, seen := callerState(ctx)
	var d Decision
	switch err := q.policy.Err(); {
	case err != nil:
		d = Decision{Err: misconfigured(core.ReasonInvalidPolicy, err)}
	case c != nil:
		d = authorize(ctx, c, q.policy)
	case seen:
		d = Decision{Err: errNoCaller}
	default:
		d = Decision{Err: misconfigured(core.ReasonNoMiddleware, nil)}
		q.logOnce(r, d.Err, "put the cfaccess middleware before the requirement, on the route or on a group that holds it")
	}
	if q.observe != nil {
		q.observe(newEvent(d, c, core.SourceNone, time.Since(start), "", q.policy.String()))
	}
	return d
}

var errNoCaller = &core.Error{Code: core.CodeMissingToken, Reason: core.ReasonNoCaller, Message: "an Access token is required"}

// logOnce logs the misconfiguration e of the requirement, found at r (nil: at construction).
func (q *Requirement) logOnce(r Request, e *core.Error, fix string) {
	if q.logged.Swap(true) {
		return
	}
	attrs := []any{"policy", q.policy.String(), "reason", string(e.Reason), "fix", fix}
	if r != nil {
		attrs = append(attrs, "route", route(r))
	}
	if e.Err != nil {
		attrs = append(attrs, "error", e.Err)
	}
	slog.Default().Error("cfaccess: route requirement misconfigured; it refuses every request with 500", attrs...)
}

// callerState reads ctx's mark: the caller, if any, and whether an authenticating middleware
// (or a test, through core.ContextWithCaller) has seen the request at all.
func callerState(ctx context.Context) (c *core.Caller, seen bool) {
	v := ctx.Value(ctxkey.Caller{})
	if v == nil {
		return nil, false
	}
	c, _ = core.CallerFromContext(ctx)
	return c, true
}
