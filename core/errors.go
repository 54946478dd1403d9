package core

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/internal/keyset"
	"github.com/cfaccess/cfaccess/internal/token"
)

// Code is the stable, machine-readable class of an [Error], which decides its HTTP status.
// HTTP responses carry it as the "error" field of their JSON body, so it never changes once
// published.
type Code string

// The codes, one per row of the behaviour table, with their HTTP status.
const (
	CodeMissingToken  Code = "missing_token" // 401: no token on the request
	CodeInvalidToken  Code = "invalid_token" // 401: a token that failed verification
	CodeForbidden     Code = "forbidden"     // 403: a valid caller the policy refuses
	CodeUnavailable   Code = "unavailable"   // 503: keys or identity could not be obtained; retry later
	CodeMisconfigured Code = "misconfigured" // 500: the application's use of cfaccess is wrong; retrying cannot help
)

// Status returns the HTTP status of c: 401, 403, 500 or 503, as listed with the codes; 503
// for any other code, retrying later being the safe advice.
func (c Code) Status() int {
	switch c {
	case CodeMissingToken, CodeInvalidToken:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeMisconfigured:
		return http.StatusInternalServerError
	}
	return http.StatusServiceUnavailable
}

// Reason refines a [Code]: why a token is invalid, why a caller is refused, what is
// unavailable, what is misconfigured. Reasons are stable too, meant for logs and metrics;
// they are not shown to callers unless an error handler chooses to.
type Reason string

// Reasons for [CodeMissingToken].
const (
	ReasonNoCaller Reason = "no_caller" // the middleware let the request through without a caller (a skipped or optional route), and this needs one
)

// Reasons for [CodeInvalidToken].
const (
	ReasonMalformed       Reason = "malformed"        // not three base64url segments of JSON
	ReasonTooLarge        Reason = "too_large"        // longer than Tokens.MaxSize
	ReasonHeaderTooLarge  Reason = "header_too_large" // a header segment over 1 KiB, where Access sends about 100 bytes
	ReasonAlgorithm       Reason = "algorithm"        // alg is not RS256
	ReasonNoKeyID         Reason = "no_key_id"        // no kid in the header
	ReasonUnknownKey      Reason = "unknown_key"      // kid not in the team's key set
	ReasonSignature       Reason = "signature"        // signature does not verify
	ReasonExpired         Reason = "expired"          // exp has passed (beyond leeway)
	ReasonNotYetValid     Reason = "not_yet_valid"    // nbf is in the future (beyond leeway)
	ReasonIssuedInFuture  Reason = "issued_in_future" // iat is in the future (beyond leeway)
	ReasonIssuer          Reason = "issuer"           // iss is not the team domain
	ReasonAudience        Reason = "audience"         // aud names none of the configured audiences
	ReasonMissingClaim    Reason = "missing_claim"    // a required claim (exp, iss, aud) is absent
	ReasonCritical        Reason = "critical_header"  // the header demands extensions (crit)
	ReasonTokenType       Reason = "token_type"       // type is present and not "app", e.g. an organization token
	ReasonHostAudience    Reason = "host_audience"    // aud names no application bound to the request's host (Config.HostAudiences)
	ReasonUnboundHost     Reason = "unbound_host"     // the request's host is bound to no application, or is no host name
	ReasonIdentityRefused Reason = "identity_refused" // get-identity refused the token (401/403), e.g. a revoked session
)

// Reasons for [CodeForbidden].
const (
	ReasonPolicy       Reason = "policy"        // the policy said no
	ReasonServiceToken Reason = "service_token" // a service token asked for an identity, which it has not
)

// Reasons for [CodeUnavailable].
const (
	ReasonKeysUnavailable     Reason = "keys_unavailable"     // the team's key set could not be fetched
	ReasonIdentityUnavailable Reason = "identity_unavailable" // get-identity failed or timed out
	ReasonPolicyError         Reason = "policy_error"         // the policy could not decide (a custom policy's error)

	// ReasonUnknownKeyPending: the token's kid is not in the key set, but the token is recent
	// enough to be signed by a key published since the set was fetched, and the set cannot be
	// fetched again yet (the unknown-kid cool-down, or a fetch still under way). Anyone can
	// mint such a token with an invented kid, so this is no sign of an outage: it is logged
	// below Warn, and counted apart in Stats.
	ReasonUnknownKeyPending Reason = "unknown_key_pending"
)

// Reasons for [CodeMisconfigured]: mistakes in how the application uses cfaccess, found at
// request time or at construction by constructors that return no error. Each is answered
// 500 and logged once, at Error, with its fix.
const (
	// ReasonNoMiddleware: a route requirement, or a handler asking for the caller, on a
	// request that no authenticating middleware saw.
	ReasonNoMiddleware Reason = "no_middleware"
	// ReasonInvalidPolicy: a policy built with a mistake (see Policy.Err), given to a
	// middleware or a route requirement.
	ReasonInvalidPolicy Reason = "invalid_policy"
	// ReasonNoVerifier: a middleware built with a nil *Verifier.
	ReasonNoVerifier Reason = "no_verifier"
)

// The sentinel errors, one per [Code]. Every [Error] matches the sentinel of its code with
// errors.Is, so callers can branch without type assertions:
//
//	if errors.Is(err, core.ErrUnavailable) { … retry later … }
var (
	ErrMissingToken  = errors.New("cfaccess: no Access token on the request")  // CodeMissingToken
	ErrInvalidToken  = errors.New("cfaccess: invalid Access token")            // CodeInvalidToken
	ErrForbidden     = errors.New("cfaccess: access denied by policy")         // CodeForbidden
	ErrUnavailable   = errors.New("cfaccess: Cloudflare Access unavailable")   // CodeUnavailable
	ErrMisconfigured = errors.New("cfaccess: access control is misconfigured") // CodeMisconfigured
)

// ErrConfig is wrapped by every error a constructor returns for a bad configuration.
var ErrConfig = errors.New("cfaccess: invalid configuration")

// Error is the one error type of this package. Code and Reason are stable; Message is a short
// sentence safe to show to the caller (it never contains the token); Err, when set, is the
// underlying cause, which may carry detail meant for logs only.
type Error struct {
	Code    Code   // the class of the error, which decides the HTTP status
	Reason  Reason // what exactly went wrong, within Code; may be empty
	Message string // a short sentence for the caller, without secrets
	Err     error  // the underlying cause, for logs; may be nil

	// RetryAfter, for CodeUnavailable, is when to try again: the verifier's
	// Keys.UnknownKeyCooldown. Zero means DefaultUnknownKeyCooldown.
	RetryAfter time.Duration
}

// Error returns "cfaccess: <code> (<reason>): <message>: <cause>", leaving out empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cfaccess: ")
	b.WriteString(string(e.Code))
	if e.Reason != "" {
		b.WriteString(" (")
		b.WriteString(string(e.Reason))
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	return target != nil && target == sentinel(e.Code)
}

// Status returns the HTTP status of e's code (see [Code.Status]).
func (e *Error) Status() int { return e.Code.Status() }

func sentinel(c Code) error {
	switch c {
	case CodeMissingToken:
		return ErrMissingToken
	case CodeInvalidToken:
		return ErrInvalidToken
	case CodeForbidden:
		return ErrForbidden
	case CodeUnavailable:
		return ErrUnavailable
	case CodeMisconfigured:
		return ErrMisconfigured
	}
	return nil
}

// AsError returns err as an *Error: itself, or the *Error it wraps, or, for any other
// error, one of CodeUnavailable that wraps it (an error that is not this package's is no
// verdict on the caller: retrying later is the safe answer). It returns nil for nil.
// Handlers and error handlers read the Code, Reason and status of any error with it:
//
//	if e := core.AsError(err); e != nil { status = e.Status() }
func AsError(err error) *Error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	}
	return &Error{Code: CodeUnavailable, Message: "the request could not be checked", Err: err}
}

// errMissingToken is shared: it carries no per-request detail, so returning one value saves an
// allocation on every anonymous request.
var errMissingToken = &Error{Code: CodeMissingToken, Message: "an Access token is required"}

func invalid(r Reason, msg string, cause error) *Error {
	return &Error{Code: CodeInvalidToken, Reason: r, Message: msg, Err: cause}
}

// unavailable makes a 503 that says to come back after the verifier's cool-down.
func (s *settings) unavailable(r Reason, msg string, cause error) *Error {
	return &Error{Code: CodeUnavailable, Reason: r, Message: msg, Err: cause, RetryAfter: s.unknownKeyCooldown}
}

// tokenReasons are the reasons of the problems package token finds.
var tokenReasons = map[token.Problem]Reason{
	token.Malformed:      ReasonMalformed,
	token.HeaderTooLarge: ReasonHeaderTooLarge,
	token.Algorithm:      ReasonAlgorithm,
	token.Critical:       ReasonCritical,
	token.NoKeyID:        ReasonNoKeyID,
	token.Signature:      ReasonSignature,
	token.MissingClaim:   ReasonMissingClaim,
	token.Issuer:         ReasonIssuer,
	token.Audience:       ReasonAudience,
	token.Expired:        ReasonExpired,
	token.NotYetValid:    ReasonNotYetValid,
	token.IssuedInFuture: ReasonIssuedInFuture,
	token.Type:           ReasonTokenType,
}

// tokenError makes an *Error of an error of package token.
func tokenError(err error) *Error {
	var te *token.Error
	if errors.As(err, &te) {
		return invalid(tokenReasons[te.Problem], te.Msg, te.Err)
	}
	return invalid(ReasonMalformed, "the token is malformed", err)
}

// keyError makes an *Error of an error of package keyset.
func (s *settings) keyError(err error) *Error {
	var ke *keyset.Error
	if !errors.As(err, &ke) {
		return s.unavailable(ReasonKeysUnavailable, "the Access signing keys could not be obtained", err)
	}
	switch ke.Kind {
	case keyset.Unknown:
		return invalid(ReasonUnknownKey, "the token's signing key is not in the team's key set", nil)
	case keyset.Pending:
		return s.unavailable(ReasonUnknownKeyPending, "the token's signing key may be newer than the team's key set; try again shortly", nil)
	}
	return s.unavailable(ReasonKeysUnavailable, "the Access signing keys are unavailable", ke.Err)
}
