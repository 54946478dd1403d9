package core

import (
	"context"
	"sync/atomic"
	"time"
)

// Requirement is a route-level authorization: it applies a policy to the caller that an
// authenticating middleware (built on a [Guard]) stored in the request's context before it.
// The adapters' Require functions are built on it. Build one with NewRequirement; it is safe
// for concurrent use.
type Requirement struct {
	policy  Policy
	observe func(Event)
	logged  atomic.Bool // a misconfiguration has been logged: once is enough
}

// RequirementOption configures a Requirement.
type RequirementOption interface{ applyRequirement(*Requirement) }

type requirementOption func(*Requirement)

func (f requirementOption) applyRequirement(q *Requirement) { f(q) }

// RequirementObserver calls f with an Event for every decision of the requirement, as
// GuardObserver does for a guard. The event's Policy names the requirement's policy; its
// Source is SourceNone, the token having been read by the middleware before. A nil f
// observes nothing.
func RequirementObserver(f func(Event)) RequirementOption {
	return requirementOption(func(q *Requirement) { q.observe = f })
}

// NewRequirement returns a requirement of p. It returns no error, for adapters whose route
// constructors return none: a policy built with a mistake (see Policy.Err) makes a
// requirement that refuses every request with 500 and [CodeMisconfigured], and logs the
// mistake at the first of them, once.
func NewRequirement(p Policy, opts ...RequirementOption) *Requirement {
	q := &Requirement{policy: p}
	for _, o := range opts {
		if o != nil {
			o.applyRequirement(q)
		}
	}
	return q
}

// Check decides about the request r, whose context is ctx:
//
//   - with a caller in ctx (see ContextWithCaller), the policy decides: 403 when it says no;
//   - when the middleware let the request through without a caller (a route its skipper
//     skips), the answer is 401 [CodeMissingToken]: a token is needed here;
//   - when no authenticating middleware saw the request at all, the route is misconfigured:
//     500 [CodeMisconfigured], logged once with the fix.
//
// A policy built with a mistake is 500 [CodeMisconfigured] whatever the request. r is only
// read to name the route in that log line.
func (q *Requirement) Check(ctx context.Context, r Request) Decision {
	var start time.Time
	if q.observe != nil {
		start = time.Now()
	}
	c, seen := callerState(ctx)
	var d Decision
	switch err := q.policy.Err(); {
	case err != nil:
		d = Decision{Err: misconfigured(ReasonInvalidPolicy, err)}
		q.logOnce(c, r, d.Err, "correct the policy given to the route requirement")
	case c != nil:
		d = authorize(ctx, c, q.policy)
	case seen:
		d = Decision{Err: errNoCaller}
	default:
		d = Decision{Err: misconfigured(ReasonNoMiddleware, nil)}
		q.logOnce(nil, r, d.Err, "put the cfaccess middleware before the requirement, on the route or on a group that holds it")
	}
	if q.observe != nil {
		var token string
		if c != nil {
			token = c.token
		}
		q.observe(newEvent(d, c, SourceNone, false, time.Since(start), token, q.policy.String()))
	}
	return d
}

// logOnce logs the misconfiguration e through the logger of c's verifier, the one the
// application configured, when a caller is known, and slog.Default otherwise.
func (q *Requirement) logOnce(c *Caller, r Request, e *Error, fix string) {
	if q.logged.Swap(true) {
		return
	}
	var v *Verifier
	if c != nil {
		v = c.v
	}
	attrs := []any{"policy", q.policy.String(), "reason", string(e.Reason), "route", route(r), "fix", fix}
	if e.Err != nil {
		attrs = append(attrs, "error", e.Err)
	}
	v.logger().Error("cfaccess: route requirement misconfigured; it refuses every request with 500", attrs...)
}
