package core

import (
	"log/slog"
	"strings"
)

// Reasons for [CodeMisconfigured]: mistakes in how the application uses cfaccess, found at
// request time or at construction by constructors that return no error. Each is answered
// 500 (retrying cannot help) and logged once, at Error, with its fix.
const (
	// ReasonNoMiddleware: a route requirement, or a handler asking for the caller's identity,
	// on a request that no authenticating middleware saw.
	ReasonNoMiddleware Reason = "no_middleware"
	// ReasonInvalidPolicy: a policy built with a mistake (see Policy.Err), given to a
	// middleware or a route requirement.
	ReasonInvalidPolicy Reason = "invalid_policy"
	// ReasonNoVerifier: a middleware built with a nil *Verifier.
	ReasonNoVerifier Reason = "no_verifier"
)

// misconfigured is the refusal for a mistake of the application's. Its message, which the
// caller sees, says no more than that: the detail is for the log.
func misconfigured(r Reason, cause error) *Error {
	return &Error{Code: CodeMisconfigured, Reason: r, Message: "access control is misconfigured on the server", Err: cause}
}

// logger is where v logs: its Config.Logger, or slog.Default when there is no verifier.
func (v *Verifier) logger() *slog.Logger {
	if v == nil {
		return slog.Default()
	}
	return v.cfg.log
}

// route names r for a log line: its method and path, never its query, which may carry
// anything.
func route(r Request) string {
	if r == nil {
		return ""
	}
	path, _, _ := strings.Cut(r.URI(), "?")
	return r.Method() + " " + path
}
