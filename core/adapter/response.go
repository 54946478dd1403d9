package adapter

import (
	"encoding/json"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/cfaccess/cfaccess/core"
)

// Decision is what a Guard or a Requirement decided about one request.
type Decision struct {
	// Caller is the verified caller when the request may proceed; nil otherwise.
	Caller *core.Caller
	// Err says why the request may not proceed; nil when it may.
	Err *core.Error
	// Redirect, when set, is the Access login URL the refusal should send a browser to.
	Redirect string

	anonymous bool // WithOptionalAuth and no token: allowed with no caller
}

// Allowed reports whether the request may proceed: with a verified Caller, or, when the
// guard has WithOptionalAuth and the request carries no token, with none (Anonymous). The
// zero Decision is not allowed.
func (d Decision) Allowed() bool { return d.Err == nil && (d.Caller != nil || d.anonymous) }

// Anonymous reports whether the request may proceed with no caller: it carries no token and
// the guard has WithOptionalAuth. The adapter then stores a nil caller, so that accessors
// report none and a route requirement after it answers 401.
func (d Decision) Anonymous() bool { return d.Err == nil && d.Caller == nil && d.anonymous }

// Response is the HTTP answer to a refused request: the same status, headers and body from
// every adapter, which only writes it in its framework's idiom.
type Response struct {
	Status int    // the HTTP status
	Body   []byte // JSON {"error": code, "message": …}; nil for a redirect

	location   string
	retryAfter string
}

// Response renders a refusal. For an allowed decision it returns a zero Response.
func (d Decision) Response() Response {
	switch {
	case d.Err == nil:
		return Response{}
	case d.Redirect != "":
		return Response{Status: http.StatusFound, location: d.Redirect}
	}
	return ErrorResponse(d.Err)
}

// ErrorResponse renders err as Decision.Response renders a refusal: for the adapters'
// WriteError, which handlers call with an error of cfaccess (from Caller.Identity, say),
// and for error handlers that want the default answer in some cases. An error that is not
// a *core.Error is answered 503 (see core.AsError).
func ErrorResponse(err error) Response {
	e := core.AsError(err)
	if e == nil {
		return Response{}
	}
	r := Response{Status: e.Status(), Body: errorBody(e)}
	if e.Code == core.CodeUnavailable {
		wait := e.RetryAfter
		if wait <= 0 {
			wait = core.DefaultUnknownKeyCooldown
		}
		r.retryAfter = strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1))
	}
	return r
}

// Headers yields the response's headers: Content-Type for a body, Location for a redirect,
// Retry-After for a 503, and Cache-Control: no-store always, so that no cache between the
// origin and the client keeps a refusal meant for one caller.
func (r Response) Headers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		if !yield("Cache-Control", "no-store") {
			return
		}
		if r.Body != nil && !yield("Content-Type", "application/json; charset=utf-8") {
			return
		}
		if r.location != "" && !yield("Location", r.location) {
			return
		}
		if r.retryAfter != "" {
			yield("Retry-After", r.retryAfter)
		}
	}
}

// Write writes r to w: the whole of an adapter built on net/http.
func (r Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.Headers() {
		h.Set(k, v)
	}
	w.WriteHeader(r.Status)
	if r.Body != nil {
		_, _ = w.Write(r.Body)
	}
}

func errorBody(e *core.Error) []byte {
	b, err := json.Marshal(struct {
		Error   core.Code `json:"error"`
		Message string    `json:"message"`
	}{e.Code, e.Message})
	if err != nil { // strings always encode; keep the shape if that ever changes
		return []byte(`{"error":"` + string(e.Code) + `"}`)
	}
	return b
}
