package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// retryAfter is the Retry-After header that r carries, "" for none.
func retryAfter(r adapter.Response) string {
	for k, v := range r.Headers() {
		if k == "Retry-After" {
			return v
		}
	}
	return ""
}

func headers(r adapter.Response) http.Header {
	h := http.Header{}
	for k, v := range r.Headers() {
		if h.Get(k) != "" {
			h.Set("X-Twice", k)
		}
		h.Set(k, v)
	}
	return h
}

// TestErrorResponseRetryAfter: a 503 says when to come back, the error's RetryAfter rounded up
// to whole seconds (never 0, which would invite an immediate retry), or the default
// cool-down when it has none; no other status carries Retry-After.
func TestErrorResponseRetryAfter(t *testing.T) {
	unavailable := func(d time.Duration) error {
		return &core.Error{Code: core.CodeUnavailable, Reason: core.ReasonKeysUnavailable, Message: "m", RetryAfter: d}
	}
	for _, tc := range []struct {
		err    error
		status int
		retry  string
	}{
		{unavailable(0), 503, "10"},
		{unavailable(-time.Second), 503, "10"},
		{unavailable(time.Nanosecond), 503, "1"},
		{unavailable(time.Second), 503, "1"},
		{unavailable(time.Second + time.Nanosecond), 503, "2"},
		{unavailable(1500 * time.Millisecond), 503, "2"},
		{unavailable(2 * time.Minute), 503, "120"},
		{fmt.Errorf("wrapped: %w", unavailable(3*time.Second)), 503, "3"},
		{errors.New("not one of cfaccess's"), 503, "10"},
		{&core.Error{Code: core.CodeMissingToken, RetryAfter: time.Second}, 401, ""},
		{&core.Error{Code: core.CodeInvalidToken, Reason: core.ReasonExpired}, 401, ""},
		{&core.Error{Code: core.CodeForbidden, RetryAfter: time.Second}, 403, ""},
		{&core.Error{Code: core.CodeMisconfigured, RetryAfter: time.Second}, 500, ""},
		{core.ErrForbidden, 503, "10"}, // a sentinel is no *core.Error: nothing says it is a verdict
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			r := adapter.ErrorResponse(tc.err)
			if r.Status != tc.status || retryAfter(r) != tc.retry {
				t.Fatalf("status %d, Retry-After %q; want %d, %q", r.Status, retryAfter(r), tc.status, tc.retry)
			}
			h := headers(r)
			if h.Get("X-Twice") != "" || h.Get("Cache-Control") != "no-store" ||
				h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("Location") != "" {
				t.Errorf("headers %v", h)
			}
			code, msg := errorBody(t, string(r.Body))
			if code != string(core.AsError(tc.err).Code) || msg != core.AsError(tc.err).Message {
				t.Errorf("body %s", r.Body)
			}
		})
	}
	if r := adapter.ErrorResponse(nil); r.Status != 0 || r.Body != nil || retryAfter(r) != "" {
		t.Errorf("ErrorResponse(nil) = %+v", r)
	}
}

// TestErrorResponseBody: the body is JSON of the code and the message, whatever the message
// holds; the cause, which may carry detail for the log, is not in it.
func TestErrorResponseBody(t *testing.T) {
	err := &core.Error{Code: core.CodeForbidden, Reason: core.ReasonPolicy, Message: `say "no" </script>` + "\n\u2028",
		Err: errors.New("secret detail")}
	r := adapter.ErrorResponse(err)
	code, msg := errorBody(t, string(r.Body))
	if code != "forbidden" || msg != err.Message {
		t.Fatalf("body %s", r.Body)
	}
	for _, leak := range []string{"secret", "policy"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("body %s holds %q", r.Body, leak)
		}
	}
}

// TestDecisionResponse: an allowed decision has no response; a redirect is a bare 302.
func TestDecisionResponse(t *testing.T) {
	if r := (adapter.Decision{Caller: core.NewCaller(&core.Claims{}, nil)}).Response(); r.Status != 0 || r.Body != nil {
		t.Errorf("allowed: %+v", r)
	}
	d := adapter.Decision{Err: &core.Error{Code: core.CodeMissingToken}, Redirect: "https://team.example/login"}
	r := d.Response()
	h := headers(r)
	if r.Status != http.StatusFound || r.Body != nil || h.Get("Location") != d.Redirect ||
		h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "" || h.Get("Retry-After") != "" {
		t.Errorf("redirect: %+v, headers %v", r, h)
	}
	rec := httptest.NewRecorder()
	r.Write(rec)
	if rec.Code != http.StatusFound || rec.Body.Len() != 0 || rec.Header().Get("Location") != d.Redirect {
		t.Errorf("written: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	// A consumer of Headers may stop early.
	for range r.Headers() {
		break
	}
}

// TestVerifierRetryAfter: the 503 of a verifier whose keys are down says to come back after
// its own cool-down, over real HTTP.
func TestVerifierRetryAfter(t *testing.T) {
	down := testkit.NewTeam(t)
	down.FailCerts(accesstest.Status500)
	cfg := testkit.Config(down, nil)
	cfg.Keys.UnknownKeyCooldown = 2500 * time.Millisecond
	g := newGuard(t, testkit.NewVerifier(t, cfg))
	d := g.Check(context.Background(), requestWith(down.User("ann@example.com")))
	testkit.WantCode(t, d.Err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if d.Err.RetryAfter != cfg.Keys.UnknownKeyCooldown {
		t.Errorf("RetryAfter = %v", d.Err.RetryAfter)
	}
	resp := testkit.Get(t, guardedOrigin(t, g), "", map[string]string{core.HeaderName: down.User("ann@example.com")})
	if resp.Status != 503 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("%d, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
}
