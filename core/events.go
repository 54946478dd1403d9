package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// Outcome is how a request was decided.
type Outcome string

// The outcomes of a decision.
const (
	OutcomeAllowed    Outcome = "allowed"    // the request goes on with a caller
	OutcomeAnonymous  Outcome = "anonymous"  // the request goes on with no token and no caller (GuardOptionalAuth)
	OutcomeDenied     Outcome = "denied"     // refused with a status and a JSON body
	OutcomeRedirected Outcome = "redirected" // refused with a 302 to the Access login page
)

// Event describes one decision of a Guard or a Requirement, for logs and metrics. It never
// holds the token: TokenID tells the requests of one token apart without revealing it.
type Event struct {
	Outcome     Outcome       // how the request was decided
	Code        Code          // empty when allowed
	Reason      Reason        // empty when allowed
	Source      TokenSource   // where the token was found; SourceNone in a Requirement's events
	TokenCached bool          // the token was verified from the cache
	Latency     time.Duration // of the whole decision, identity lookup included
	Subject     string        // the user's e-mail, or a service token's client ID
	TokenID     string        // the first 12 hex digits of the token's SHA-256
	Policy      string        // the policy that decided (Policy.String), when one did
	Err         error         // the refusal, with its cause
}

func newEvent(d Decision, c *Caller, src TokenSource, cached bool, latency time.Duration, token, policy string) Event {
	e := Event{Outcome: OutcomeAllowed, Source: src, TokenCached: cached, Latency: latency, Policy: policy}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		e.TokenID = hex.EncodeToString(sum[:6])
	}
	if c != nil {
		e.Subject = c.Claims.Email
		if e.Subject == "" {
			e.Subject = c.Claims.CommonName
		}
	}
	if d.Anonymous() {
		e.Outcome = OutcomeAnonymous
	}
	if d.Err != nil {
		e.Outcome, e.Code, e.Reason, e.Err = OutcomeDenied, d.Err.Code, d.Err.Reason, d.Err
		if d.Redirect != "" {
			e.Outcome = OutcomeRedirected
		}
	}
	return e
}

// LogEvents returns an observer (for an adapter's WithObserver, GuardObserver or
// RequirementObserver) that logs each decision to l: allowed requests at Debug, refusals at
// Info, unavailability, which an operator must see, at Warn, and misconfiguration, which a
// developer must fix, at Error. ReasonUnknownKeyPending, a 503 that anyone can cause with an
// invented kid, is logged at Info: it must not look like an outage.
func LogEvents(l *slog.Logger) func(Event) {
	return func(e Event) {
		level := slog.LevelDebug
		switch {
		case e.Code == CodeMisconfigured:
			level = slog.LevelError
		case e.Code == CodeUnavailable && e.Reason != ReasonUnknownKeyPending:
			level = slog.LevelWarn
		case e.Outcome != OutcomeAllowed && e.Outcome != OutcomeAnonymous:
			level = slog.LevelInfo
		}
		attrs := []slog.Attr{
			slog.String("outcome", string(e.Outcome)),
			slog.String("source", e.Source.String()),
			slog.Bool("token_cached", e.TokenCached),
			slog.Duration("latency", e.Latency),
		}
		if e.Code != "" {
			attrs = append(attrs, slog.String("code", string(e.Code)), slog.String("reason", string(e.Reason)))
		}
		if e.Policy != "" {
			attrs = append(attrs, slog.String("policy", e.Policy))
		}
		if e.Subject != "" {
			attrs = append(attrs, slog.String("subject", e.Subject))
		}
		if e.TokenID != "" {
			attrs = append(attrs, slog.String("token_id", e.TokenID))
		}
		if e.Err != nil && level != slog.LevelDebug {
			attrs = append(attrs, slog.String("error", e.Err.Error()))
		}
		l.LogAttrs(context.Background(), level, "cfaccess: request "+string(e.Outcome), attrs...)
	}
}
