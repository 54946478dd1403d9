package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reasons for the refusals of a [Guard] and a [Requirement] that are not about the token.
const (
	ReasonPolicy      Reason = "policy"       // CodeForbidden: the policy said no
	ReasonPolicyError Reason = "policy_error" // CodeUnavailable: the policy could not decide (a custom policy's error)
	ReasonNoCaller    Reason = "no_caller"    // CodeMissingToken: the middleware let the request through without a caller
)

var errNoCaller = &Error{Code: CodeMissingToken, Reason: ReasonNoCaller, Message: "an Access token is required"}

// Guard turns a request into a Decision: find the token, verify it, apply the policy. It
// holds every rule the adapters share, so that each adapter only translates. Build one with
// NewGuard; it is safe for concurrent use.
type Guard struct {
	v             *Verifier
	policy        *Policy
	loginRedirect bool
	optional      bool
	observe       func(Event)
	broken        *Error // set by MiddlewareGuard on a configuration error: refuse everything
}

// GuardOption configures a Guard. The guard's options are named Guard… rather than With…
// because each adapter has With… options of its own, for its Middleware, which a Guard does
// not take (and the other way round): the names keep the two from being mixed up.
type GuardOption interface{ applyGuard(*Guard) }

type guardOption func(*Guard)

func (f guardOption) applyGuard(g *Guard) { f(g) }

// GuardPolicy makes the guard refuse, with 403, the verified callers that p does not allow.
func GuardPolicy(p Policy) GuardOption {
	return guardOption(func(g *Guard) { g.policy = &p })
}

// GuardLoginRedirect answers a browser's page navigation (a GET or HEAD whose Sec-Fetch-Mode
// is "navigate", or, from browsers that do not send it, whose Accept names text/html) that
// has no token or an expired one with a 302 to the Access login page, which sends the user
// back afterwards. API clients keep getting 401.
func GuardLoginRedirect() GuardOption {
	return guardOption(func(g *Guard) { g.loginRedirect = true })
}

// GuardOptionalAuth lets a request that carries no token at all go on with no caller, for
// the paths that an Access policy bypasses (they reach the origin with no token): the
// decision is then Anonymous, and handlers see no caller (FromContext reports false). A
// request that carries a token still needs a valid one: a bad or expired token is refused as
// ever (401, or the login redirect), never taken for no token, and an outage is still a 503.
// It cannot be combined with GuardPolicy, which no caller without a token could satisfy:
// require the policy on the routes that need it.
func GuardOptionalAuth() GuardOption {
	return guardOption(func(g *Guard) { g.optional = true })
}

// GuardObserver calls f with an Event for every decision, for logs and metrics. f runs on
// the request's goroutine: keep it quick. A nil f observes nothing.
func GuardObserver(f func(Event)) GuardOption {
	return guardOption(func(g *Guard) { g.observe = f })
}

// NewGuard returns a guard over v. A nil v, or a policy built with a mistake (see
// Policy.Err), is an error here, wrapping ErrConfig.
func NewGuard(v *Verifier, opts ...GuardOption) (*Guard, error) {
	g := newGuard(v, opts)
	if v == nil {
		return nil, fmt.Errorf("%w: NewGuard: nil Verifier", ErrConfig)
	}
	if g.policy != nil {
		if err := g.policy.Err(); err != nil {
			return nil, fmt.Errorf("policy %s: %w", g.policy, err)
		}
		if g.optional {
			return nil, fmt.Errorf("%w: GuardOptionalAuth and GuardPolicy(%s): a request without a token has no caller for the policy to allow; require the policy on the routes that need it", ErrConfig, g.policy)
		}
	}
	return g, nil
}

func newGuard(v *Verifier, opts []GuardOption) *Guard {
	g := &Guard{v: v}
	for _, o := range opts {
		if o != nil {
			o.applyGuard(g)
		}
	}
	return g
}

// MiddlewareGuard is NewGuard for adapters, whose middleware constructors return no error in
// their framework's idiom. A configuration error is logged now, once, at Error, with its fix,
// through v's Config.Logger (slog.Default when v is nil); the guard returned then refuses
// every request with 500 and [CodeMisconfigured]: never one that lets requests through.
func MiddlewareGuard(v *Verifier, opts ...GuardOption) *Guard {
	g, err := NewGuard(v, opts...)
	if err == nil {
		return g
	}
	g = newGuard(v, opts) // keeps the observer, which sees the refusals too
	reason, fix := ReasonInvalidPolicy, "correct the policy given to the middleware"
	if v == nil {
		reason, fix = ReasonNoVerifier, "pass the middleware the *core.Verifier that core.NewVerifier returned"
	}
	g.broken = misconfigured(reason, err)
	v.logger().Error("cfaccess: middleware misconfigured; it refuses every request with 500",
		"reason", string(reason), "error", err, "fix", fix)
	return g
}

// Verifier returns the guard's verifier.
func (g *Guard) Verifier() *Verifier { return g.v }

// Check decides about r. An allowed decision carries the Caller, which the adapter stores
// in the request's context (ContextWithCaller) and its framework's store; a refusal carries
// the error, and Response renders it.
func (g *Guard) Check(ctx context.Context, r Request) Decision {
	var start time.Time
	if g.observe != nil {
		start = time.Now()
	}
	if g.broken != nil {
		d := g.v.refuse(g.broken)
		if g.observe != nil {
			g.observe(newEvent(d, nil, SourceNone, false, time.Since(start), "", ""))
		}
		return d
	}
	token, src := TokenFrom(r)
	if src == SourceNone && g.optional {
		d := Decision{anonymous: true}
		if g.observe != nil {
			g.observe(newEvent(d, nil, src, false, time.Since(start), "", ""))
		}
		return d
	}
	claims, caller, cached, err := g.v.check(ctx, token)
	if err == nil {
		// On every request, cached token or not: the cache is keyed by token, not by host.
		// The event still names the caller: who tries a token on the wrong host is worth a log.
		if herr := g.v.cfg.hosts.check(claims, r.Host()); herr != nil {
			err = herr
		}
	}
	var d Decision
	if err != nil {
		d = g.v.refuse(err)
		if g.loginRedirect && redirectable(d.Err) && isNavigation(r) {
			if u, err := g.v.LoginURL(r.Host(), r.URI()); err == nil {
				d.Redirect = u
			}
		}
	} else {
		if caller == nil { // no cache to share one from
			caller = g.v.newCaller(claims, token)
		}
		d = Decision{Caller: caller}
		if g.policy != nil {
			d = authorize(ctx, caller, *g.policy)
		}
	}
	if g.observe != nil {
		var policy string
		if g.policy != nil && caller != nil {
			policy = g.policy.String()
		}
		g.observe(newEvent(d, caller, src, cached, time.Since(start), token, policy))
	}
	return d
}

// authorize applies p, whose Err has been checked, to c.
func authorize(ctx context.Context, c *Caller, p Policy) Decision {
	ok, err := p.Allow(ctx, c)
	switch {
	case err != nil:
		// Keep the cause's own answer (an identity outage is 503, a refused session 401), even
		// from inside AnyOf's joined errors; a custom policy's plain error is a 503.
		var e *Error
		if errors.As(err, &e) {
			return c.v.refuse(e)
		}
		return c.v.refuse(unavailable(ReasonPolicyError, "the access policy could not be evaluated", err))
	case !ok:
		return Decision{Err: errPolicyRefused}
	}
	return Decision{Caller: c}
}

var errPolicyRefused = &Error{Code: CodeForbidden, Reason: ReasonPolicy, Message: "access denied"}

// refuse makes the decision for err, with the Retry-After a 503 should carry.
func (v *Verifier) refuse(err error) Decision {
	e, ok := err.(*Error)
	if !ok {
		e = unavailable("", "the request could not be checked", err)
	}
	d := Decision{Err: e}
	if e.Code == CodeUnavailable {
		if v == nil {
			d.retryAfter = DefaultUnknownKeyCooldown
		} else {
			d.retryAfter = v.cfg.unknownKeyCooldown
		}
	}
	return d
}

// redirectable reports whether logging in again can help: no token, or an expired one.
func redirectable(e *Error) bool {
	return e.Code == CodeMissingToken || (e.Code == CodeInvalidToken && e.Reason == ReasonExpired)
}

// isNavigation reports whether r is a browser loading a page, which a redirect can serve,
// rather than a script or API client, which needs the status.
func isNavigation(r Request) bool {
	if m := r.Method(); m != "GET" && m != "HEAD" {
		return false
	}
	if mode := r.Header("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header("Accept"), "text/html")
}
