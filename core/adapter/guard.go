package adapter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/core"
)

// Guard turns a request into a Decision: find the token, authenticate it, apply the policy.
// It holds every rule the adapters share, so that each adapter only translates. Build one
// with NewGuard or MiddlewareGuard; it is safe for concurrent use.
type Guard struct {
	v             *core.Verifier
	hostBound     bool // v binds hosts to applications: every host a request names is checked
	policy        *core.Policy
	loginRedirect bool
	optional      bool
	observe       func(core.Event)
	broken        *core.Error // set by MiddlewareGuard on a configuration error: refuse everything
}

// Option configures a Guard.
type Option interface{ applyGuard(*Guard) }

// RequirementOption configures a Requirement.
type RequirementOption interface{ applyRequirement(*Requirement) }

// SharedOption configures a Guard and a Requirement alike.
type SharedOption interface {
	Option
	RequirementOption
}

type guardOption func(*Guard)

func (f guardOption) applyGuard(g *Guard) { f(g) }

// WithPolicy makes the guard refuse, with 403, the verified callers that p does not allow.
func WithPolicy(p core.Policy) Option {
	return guardOption(func(g *Guard) { g.policy = &p })
}

// WithLoginRedirect answers a browser's page navigation (a GET or HEAD whose Sec-Fetch-Mode
// is "navigate", or, from browsers that do not send it, whose Accept names text/html) that
// has no token or an expired one with a 302 to the Access login page, which sends the user
// back afterwards. API clients keep getting 401.
func WithLoginRedirect() Option {
	return guardOption(func(g *Guard) { g.loginRedirect = true })
}

// WithOptionalAuth lets a request that carries no token at all go on with no caller, for
// the paths that an Access policy bypasses (they reach the origin with no token): the
// decision is then Anonymous. A request that carries a token still needs a valid one: a bad
// or expired token is refused as ever (401, or the login redirect), never taken for no
// token, and an outage is still a 503. It cannot be combined with WithPolicy, which no
// caller without a token could satisfy: require the policy on the routes that need it.
func WithOptionalAuth() Option {
	return guardOption(func(g *Guard) { g.optional = true })
}

type observer func(core.Event)

func (f observer) applyGuard(g *Guard)             { g.observe = f }
func (f observer) applyRequirement(q *Requirement) { q.observe = f }

// WithObserver calls f with an Event for every decision, for logs and metrics. f runs on the
// request's goroutine: keep it quick. A nil f observes nothing.
func WithObserver(f func(core.Event)) SharedOption { return observer(f) }

// NewGuard returns a guard over v. A nil v, or a policy built with a mistake (see
// core.Policy.Err), is an error here, wrapping core.ErrConfig.
func NewGuard(v *core.Verifier, opts ...Option) (*Guard, error) {
	g := newGuard(v, opts)
	if v == nil {
		return nil, fmt.Errorf("%w: NewGuard: nil Verifier", core.ErrConfig)
	}
	if g.policy != nil {
		if err := g.policy.Err(); err != nil {
			return nil, fmt.Errorf("policy %s: %w", g.policy, err)
		}
		if g.optional {
			return nil, fmt.Errorf("%w: WithOptionalAuth and WithPolicy(%s): a request without a token has no caller for the policy to allow; require the policy on the routes that need it", core.ErrConfig, g.policy)
		}
	}
	return g, nil
}

func newGuard(v *core.Verifier, opts []Option) *Guard {
	g := &Guard{v: v, hostBound: v != nil && v.BindsHosts()}
	for _, o := range opts {
		if o != nil {
			o.applyGuard(g)
		}
	}
	return g
}

// MiddlewareGuard is NewGuard for adapters, whose middleware constructors return no error in
// their framework's idiom. A configuration error is logged now, once, at Error, with its fix,
// through v's Logger (slog.Default when v is nil); the guard returned then refuses every
// request with 500 and core.CodeMisconfigured: never one that lets requests through.
func MiddlewareGuard(v *core.Verifier, opts ...Option) *Guard {
	g, err := NewGuard(v, opts...)
	if err == nil {
		return g
	}
	g = newGuard(v, opts) // keeps the observer, which sees the refusals too
	reason, fix := core.ReasonInvalidPolicy, "correct the policy given to the middleware"
	if v == nil {
		reason, fix = core.ReasonNoVerifier, "pass the middleware the *core.Verifier that core.NewVerifier returned"
	}
	g.broken = misconfigured(reason, err)
	v.Logger().Error("cfaccess: middleware misconfigured; it refuses every request with 500",
		"reason", string(reason), "error", err, "fix", fix)
	return g
}

// Verifier returns the guard's verifier.
func (g *Guard) Verifier() *core.Verifier { return g.v }

// Check decides about r. An allowed decision carries the Caller, which the adapter stores
// in the request's context (core.ContextWithCaller) before the next handler runs; a refusal
// carries the error, and Decision.Response renders it.
func (g *Guard) Check(ctx context.Context, r Request) Decision {
	var start time.Time
	if g.observe != nil {
		start = time.Now()
	}
	token, src := "", core.SourceNone
	var caller *core.Caller // authenticated, whatever the policy says
	var d Decision
	switch {
	case g.broken != nil:
		d = Decision{Err: g.broken}
	default:
		token, src = TokenFrom(r)
		if src == core.SourceNone && g.optional {
			d = Decision{anonymous: true}
			break
		}
		var err error
		if g.hostBound {
			caller, err = g.v.Authenticate(ctx, token, Hosts(r)...)
		} else {
			caller, err = g.v.Authenticate(ctx, token)
		}
		switch {
		case err != nil:
			d = Decision{Err: core.AsError(err)}
			if g.loginRedirect && redirectable(d.Err) && isNavigation(r) {
				if u, err := g.v.LoginURL(r.Host(), r.URI()); err == nil {
					d.Redirect = u
				}
			}
		case g.policy != nil:
			d = authorize(ctx, caller, *g.policy)
		default:
			d = Decision{Caller: caller}
		}
	}
	if g.observe != nil {
		var policy string
		if g.policy != nil && caller != nil {
			policy = g.policy.String()
		}
		g.observe(newEvent(d, caller, src, time.Since(start), token, policy))
	}
	return d
}

// authorize applies p, whose Err has been checked, to c.
func authorize(ctx context.Context, c *core.Caller, p core.Policy) Decision {
	ok, err := p.Allow(ctx, c)
	switch {
	case err != nil:
		// Keep the cause's own answer (an identity outage is 503, a refused session 401), even
		// from inside AnyOf's joined errors; a custom policy's plain error is a 503.
		var e *core.Error
		if errors.As(err, &e) {
			return Decision{Err: e}
		}
		return Decision{Err: &core.Error{Code: core.CodeUnavailable, Reason: core.ReasonPolicyError,
			Message: "the access policy could not be evaluated", Err: err}}
	case !ok:
		return Decision{Err: errPolicyRefused}
	}
	return Decision{Caller: c}
}

var errPolicyRefused = &core.Error{Code: core.CodeForbidden, Reason: core.ReasonPolicy, Message: "access denied"}

// redirectable reports whether logging in again can help: no token, or an expired one.
func redirectable(e *core.Error) bool {
	return e.Code == core.CodeMissingToken || (e.Code == core.CodeInvalidToken && e.Reason == core.ReasonExpired)
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

// misconfigured is the refusal for a mistake of the application's. Its message, which the
// caller sees, says no more than that: the detail is for the log.
func misconfigured(r core.Reason, cause error) *core.Error {
	return &core.Error{Code: core.CodeMisconfigured, Reason: r, Message: "access control is misconfigured on the server", Err: cause}
}

func newEvent(d Decision, c *core.Caller, src core.TokenSource, latency time.Duration, token, policy string) core.Event {
	e := core.Event{Outcome: core.OutcomeAllowed, Source: src, Latency: latency, Policy: policy}
	switch {
	case token == "": // a requirement's event, or no token: no ID
	case c != nil && c.TokenID() != "":
		e.TokenID = c.TokenID() // the same token's ID, made once per token
	default:
		e.TokenID = core.TokenID(token)
	}
	if c != nil {
		e.Subject = cmp.Or(c.Claims.Email, c.ServiceTokenName(), c.Claims.CommonName)
	}
	if d.Anonymous() {
		e.Outcome = core.OutcomeAnonymous
	}
	if d.Err != nil {
		e.Outcome, e.Code, e.Reason, e.Err = core.OutcomeDenied, d.Err.Code, d.Err.Reason, d.Err
		if d.Redirect != "" {
			e.Outcome = core.OutcomeRedirected
		}
	}
	return e
}
