package adapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

const fix = "register the middleware before the routes"

// noCaller checks that a's Caller, Claims and Identity find no caller in ctx, and returns
// Identity's error.
func noCaller(t *testing.T, a *adapter.Accessors, ctx context.Context) error {
	t.Helper()
	if c, ok := a.Caller(ctx); ok || c != nil {
		t.Errorf("Caller = %v, %v", c, ok)
	}
	if c, ok := a.Claims(ctx); ok || c != nil {
		t.Errorf("Claims = %v, %v", c, ok)
	}
	id, err := a.Identity(ctx)
	if id != nil {
		t.Errorf("Identity = %v", id)
	}
	return err
}

// TestAccessorsWithoutMiddleware: a read on a request that no middleware saw finds no caller,
// and is logged exactly once, at Error, with the fix, however many reads of any kind follow.
func TestAccessorsWithoutMiddleware(t *testing.T) {
	logs := testkit.CaptureDefaultLog(t)
	a := &adapter.Accessors{Fix: fix}
	ctx := context.Background()
	for range 3 {
		err := noCaller(t, a, ctx)
		testkit.WantCode(t, err, core.CodeMisconfigured, core.ReasonNoMiddleware)
		if !errors.Is(err, core.ErrMisconfigured) {
			t.Errorf("%v is not ErrMisconfigured", err)
		}
		resp := adapter.ErrorResponse(err)
		if resp.Status != http.StatusInternalServerError || retryAfter(resp) != "" {
			t.Errorf("%v answers %d, Retry-After %q", err, resp.Status, retryAfter(resp))
		}
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, "level=ERROR") {
		t.Fatalf("%d log lines for nine reads, want one at Error:\n%s", n, out)
	}
	for _, want := range []string{`fix="` + fix + `"`, "reason=no_middleware"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}

	// Each adapter's Accessors say it once of their own.
	other := &adapter.Accessors{Fix: "another framework's fix"}
	other.Caller(ctx)
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 || !strings.Contains(logs.String(), "another framework's fix") {
		t.Errorf("a second Accessors logged %d lines in all:\n%s", n, logs)
	}
}

// TestAccessorsSkipped: a request that the middleware let through without a caller (a
// skipped or optional route) has none, which is no mistake: nothing is logged.
func TestAccessorsSkipped(t *testing.T) {
	logs := testkit.CaptureDefaultLog(t)
	a := &adapter.Accessors{Fix: fix}
	ctx := core.ContextWithCaller(context.Background(), nil)
	err := noCaller(t, a, ctx)
	testkit.WantCode(t, err, core.CodeMissingToken, core.ReasonNoCaller)
	if !errors.Is(err, core.ErrMissingToken) || adapter.ErrorResponse(err).Status != http.StatusUnauthorized {
		t.Errorf("%v answers %d", err, adapter.ErrorResponse(err).Status)
	}
	if out := logs.String(); out != "" {
		t.Errorf("a skipped request was logged:\n%s", out)
	}
}

// TestAccessorsCaller: with a caller, the accessors return it, its claims and its identity.
func TestAccessorsCaller(t *testing.T) {
	logs := testkit.CaptureDefaultLog(t)
	a := &adapter.Accessors{Fix: fix}
	claims := &core.Claims{Email: "ann@example.com"}
	id := &core.Identity{Email: "ann@example.com", Groups: []core.Group{{Name: "admins"}}}
	caller := core.NewCaller(claims, id)
	ctx := core.ContextWithCaller(context.Background(), caller)
	if c, ok := a.Caller(ctx); !ok || c != caller {
		t.Errorf("Caller = %v, %v", c, ok)
	}
	if c, ok := a.Claims(ctx); !ok || c != claims {
		t.Errorf("Claims = %v, %v", c, ok)
	}
	if got, err := a.Identity(ctx); got != id || err != nil {
		t.Errorf("Identity = %v, %v", got, err)
	}
	// A test's caller, with no network, satisfies a route requirement as a verified one does.
	if d := adapter.NewRequirement(core.Groups("admins")).Check(ctx, requestWith("")); !d.Allowed() || d.Caller != caller {
		t.Errorf("a test's caller refused: %v", d.Err)
	}
	// A caller without an identity to give says so; it is no misconfiguration.
	bare := core.ContextWithCaller(context.Background(), core.NewCaller(claims, nil))
	_, err := a.Identity(bare)
	testkit.WantCode(t, err, core.CodeUnavailable, "")
	if logs.String() != "" {
		t.Errorf("logged:\n%s", logs)
	}
}

// TestAccessorsThroughServer: behind a real guard, over real HTTP, a handler reads the caller
// and looks up the identity from the team domain; a route outside the middleware reads none
// and the mistake is logged once.
func TestAccessorsThroughServer(t *testing.T) {
	logs := testkit.CaptureDefaultLog(t)
	srv := testkit.NewTeam(t)
	g := newGuard(t, testkit.Verifier(t, srv))
	a := &adapter.Accessors{Fix: fix}
	handler := func(w http.ResponseWriter, r *http.Request) {
		c, hasCaller := a.Caller(r.Context())
		id, err := a.Identity(r.Context())
		switch {
		case err != nil:
			adapter.ErrorResponse(err).Write(w)
		case !hasCaller || c.Claims.Email != id.Email:
			http.Error(w, "caller and identity disagree", http.StatusTeapot)
		default:
			_, _ = w.Write([]byte(id.Email))
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/in/", middleware(g, http.HandlerFunc(handler)))
	mux.HandleFunc("/out/", handler)
	u := testkit.Serve(t, mux)
	tok := map[string]string{core.HeaderName: srv.User("ann@example.com", "admins")}

	if resp := testkit.Get(t, u+"/in/me", "", tok); resp.Status != 200 || resp.Body != "ann@example.com" {
		t.Errorf("behind the middleware: %d %s", resp.Status, resp.Body)
	}
	if srv.IdentityRequests() != 1 {
		t.Errorf("%d identity calls", srv.IdentityRequests())
	}
	for range 2 {
		resp := testkit.Get(t, u+"/out/me", "", tok)
		if code, _ := errorBody(t, resp.Body); resp.Status != 500 || code != "misconfigured" {
			t.Errorf("outside the middleware: %d %s", resp.Status, resp.Body)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, logs)
	}
}
