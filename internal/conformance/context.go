package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// contexts read the caller from any context.Context, as an adapter's accessors read it from
// the request's.
var contexts adapter.Accessors

// ContextReport is the answer of the server of CheckContext: what ctx, a context.Context
// that the framework hands handlers besides the request's own (a fiber.Ctx, say), tells of
// the caller, beside caller, what the adapter's Caller returned.
func ContextReport(ctx context.Context, caller *core.Caller) string {
	fromCtx, found := core.CallerFromContext(ctx)
	_, err := contexts.Identity(ctx) // tells a request the middleware let through without a caller from one it never saw
	code := "-"
	if e := core.AsError(err); e != nil {
		code = string(e.Code) + "/" + string(e.Reason)
	}
	return fmt.Sprintf("%v %v %s", found, fromCtx == caller, code)
}

// CheckContext checks a framework's other context.Context against the request's: base serves
// GET /skipped and GET / (any other path) with Middleware over a verifier of team, with
// WithSkipper(path is /skipped), answering ContextReport. That context must find the caller
// that the middleware stored, and, on the skipped route, know the request was seen without
// a caller, so that accessors and requirements reading it answer 401, not 500.
func CheckContext(t *testing.T, base string, team *accesstest.Server) {
	t.Helper()
	for _, c := range []struct{ path, want string }{
		{"/", "true true -"},
		{"/skipped", "false true missing_token/no_caller"},
	} {
		req, err := http.NewRequest("GET", base+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(core.HeaderName, team.User("ann@example.com"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != c.want {
			t.Errorf("%s: %q (%v), want %q", c.path, body, err, c.want)
		}
	}
}
