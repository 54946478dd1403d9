package core

import (
	"errors"
	"strings"
)

// Code is the stable, machine-readable class of an [Error]. HTTP responses carry it as the
// "error" field of their JSON body, so it never changes once published.
type Code string

// The codes, one per row of the behaviour table.
const (
	CodeMissingToken  Code = "missing_token" // no token on the request: 401
	CodeInvalidToken  Code = "invalid_token" // a token that failed verification: 401
	CodeForbidden     Code = "forbidden"     // a valid caller the policy refuses: 403
	CodeUnavailable   Code = "unavailable"   // keys or identity could not be obtained: 503
	CodeMisconfigured Code = "misconfigured" // the application's use of cfaccess is wrong: 500
)

// Reason refines a [Code]: why a token is invalid, why a caller is refused, what is unavailable.
// Reasons are stable too, meant for logs and metrics; they are not shown to callers unless an
// error handler chooses to.
type Reason string

// Reasons for [CodeInvalidToken].
const (
	ReasonMalformed      Reason = "malformed"        // not three base64url segments of JSON
	ReasonTooLarge       Reason = "too_large"        // longer than Config.MaxTokenSize
	ReasonHeaderTooLarge Reason = "header_too_large" // a header segment over 1 KiB, where Access sends about 100 bytes
	ReasonAlgorithm      Reason = "algorithm"        // alg is not RS256
	ReasonNoKeyID        Reason = "no_key_id"        // no kid in the header
	ReasonUnknownKey     Reason = "unknown_key"      // kid not in the team's key set
	ReasonSignature      Reason = "signature"        // signature does not verify
	ReasonExpired        Reason = "expired"          // exp has passed (beyond leeway)
	ReasonNotYetValid    Reason = "not_yet_valid"    // nbf is in the future (beyond leeway)
	ReasonIssuedInFuture Reason = "issued_in_future" // iat is in the future (beyond leeway)
	ReasonIssuer         Reason = "issuer"           // iss is not the team domain
	ReasonAudience       Reason = "audience"         // aud names none of the configured audiences
	ReasonMissingClaim   Reason = "missing_claim"    // a required claim (exp, iss, aud) is absent
	ReasonCritical       Reason = "critical_header"  // the header demands extensions (crit)
	ReasonTokenType      Reason = "token_type"       // type is present and not "app", e.g. an organization token
)

// Reasons for [CodeUnavailable].
const (
	ReasonKeysUnavailable Reason = "keys_unavailable" // the team's key set could not be fetched

	// ReasonUnknownKeyPending: the token's kid is not in the key set, but the token is recent
	// enough to be signed by a key published since the set was fetched, and the set cannot be
	// fetched again yet (the unknown-kid cool-down, or a fetch still under way). Anyone can
	// mint such a token with an invented kid, so this is no sign of an outage: it is logged
	// below Warn, and counted apart in Stats.
	ReasonUnknownKeyPending Reason = "unknown_key_pending"
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

// errMissingToken is shared: it carries no per-request detail, so returning one value saves an
// allocation on every anonymous request.
var errMissingToken = &Error{Code: CodeMissingToken, Message: "an Access token is required"}

func invalid(r Reason, msg string, cause error) *Error {
	return &Error{Code: CodeInvalidToken, Reason: r, Message: msg, Err: cause}
}

func unavailable(r Reason, msg string, cause error) *Error {
	return &Error{Code: CodeUnavailable, Reason: r, Message: msg, Err: cause}
}
