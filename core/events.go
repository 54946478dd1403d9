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
	OutcomeAnonymous  Outcome = "anonymous"  // the request goes on with no token and no caller (an adapter's WithOptionalAuth)
	OutcomeDenied     Outcome = "denied"     // refused with a status and a JSON body
	OutcomeRedirected Outcome = "redirected" // refused with a 302 to the Access login page
)

// Event describes one decision of a middleware or a route requirement, for logs and metrics
// (an adapter's WithObserver). It never
// holds the token: TokenID tells the requests of one token apart without revealing it.
type Event struct {
	Outcome Outcome       // how the request was decided
	Code    Code          // empty when allowed
	Reason  Reason        // empty when allowed
	Source  TokenSource   // where the token was found; SourceNone in a route requirement's events
	Latency time.Duration // of the whole decision, identity lookup included
	Subject string        // the user's e-mail, or a service token's name (Config.ServiceTokenNames), else its client ID
	TokenID string        // TokenID of the token
	Policy  string        // the policy that decided (Policy.String), when one did
	Err     error         // the refusal, with its cause
}

// TokenSource tells where a token was found.
type TokenSource uint8

// The token sources.
const (
	SourceNone   TokenSource = iota // no token on the request
	SourceHeader                    // the Cf-Access-Jwt-Assertion header
	SourceCookie                    // the CF_Authorization cookie
)

// String returns "header", "cookie" or "none".
func (s TokenSource) String() string {
	switch s {
	case SourceHeader:
		return "header"
	case SourceCookie:
		return "cookie"
	}
	return "none"
}

// Where Cloudflare Access puts the token on requests to the origin.
const (
	HeaderName = "Cf-Access-Jwt-Assertion" // set by Access on every proxied request
	CookieName = "CF_Authorization"        // set in the browser after login; exact case
)

// TokenID returns the ID that events give token: the first 12 hex digits of its SHA-256,
// which tells the requests of one token apart in logs without revealing it.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// LogEvents returns an observer (for an adapter's WithObserver) that logs each decision to l: allowed requests at Debug, refusals at
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
