package adapterkit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/adapterkit"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// R is the request type of the tests' framework: net/http's.
type R = *http.Request

type (
	option        = adapterkit.Option[R]
	requireOption = adapterkit.RequireOption[R]
)

func navigation() *http.Request {
	r := httptest.NewRequest("GET", "https://app.example.com/docs", nil)
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	return r
}

func TestMiddlewareOptions(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	var events []core.Event
	handlerErr := errors.New("handled")
	skip := func(r R) bool { return r.URL.Path == "/healthz" }
	c, g := adapterkit.Middleware(v, []option{
		nil,
		adapterkit.WithSkipper(skip),
		adapterkit.WithLoginRedirect[R](),
		adapterkit.WithOptionalAuth[R](),
		adapterkit.WithErrorHandler(func(R, *core.Error) error { return handlerErr }),
		adapterkit.WithObserver[R](func(e core.Event) { events = append(events, e) }),
		nil,
	})
	if c.Skip == nil || !c.Skip(httptest.NewRequest("GET", "/healthz", nil)) || !c.LoginRedirect || !c.Optional ||
		c.OnError == nil || c.OnError(nil, nil) != handlerErr || c.Observe == nil {
		t.Fatalf("config %+v", c)
	}
	if g.Verifier() != v {
		t.Error("the guard is not over v")
	}
	// The guard has the options: optional (no token: anonymous), login redirect (an expired
	// token on a navigation), the observer.
	if d := g.Check(context.Background(), adapter.HTTPRequest(navigation())); !d.Anonymous() {
		t.Errorf("no token: %+v", d)
	}
	r := navigation()
	r.Header.Set(core.HeaderName, srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)}))
	if d := g.Check(context.Background(), adapter.HTTPRequest(r)); d.Redirect == "" {
		t.Errorf("expired token on a navigation: %+v", d)
	}
	if len(events) != 2 || events[0].Outcome != core.OutcomeAnonymous || events[1].Outcome != core.OutcomeRedirected {
		t.Errorf("events %+v", events)
	}

	// No options: none set, a plain guard.
	c, g = adapterkit.Middleware[R, option](v, nil)
	if c.Skip != nil || c.LoginRedirect || c.Optional || c.OnError != nil || c.Observe != nil {
		t.Errorf("config %+v", c)
	}
	d := g.Check(context.Background(), adapter.HTTPRequest(navigation()))
	if d.Allowed() || d.Redirect != "" || d.Err == nil || d.Err.Code != core.CodeMissingToken {
		t.Errorf("plain guard: %+v", d)
	}
}

// TestMiddlewareWithoutVerifier: the guard of a middleware given no verifier refuses every
// request with 500, and its observer sees it.
func TestMiddlewareWithoutVerifier(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	var events []core.Event
	_, g := adapterkit.Middleware(nil, []option{adapterkit.WithObserver[R](func(e core.Event) { events = append(events, e) })})
	d := g.Check(context.Background(), adapter.HTTPRequest(navigation()))
	if d.Allowed() || d.Err == nil || d.Err.Code != core.CodeMisconfigured || len(events) != 1 {
		t.Errorf("decision %+v, events %+v", d, events)
	}
	if !strings.Contains(logs.String(), "reason=no_verifier") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestRequireOptions(t *testing.T) {
	var events []core.Event
	handlerErr := errors.New("handled")
	c, q := adapterkit.Require(core.Groups("admins"), []requireOption{
		nil,
		adapterkit.WithErrorHandler(func(R, *core.Error) error { return handlerErr }),
		adapterkit.WithObserver[R](func(e core.Event) { events = append(events, e) }),
	})
	if c.OnError == nil || c.OnError(nil, nil) != handlerErr || c.Observe == nil || c.Skip != nil {
		t.Fatalf("config %+v", c)
	}
	ctx := core.ContextWithCaller(context.Background(), core.NewCaller(&core.Claims{Email: "ann@example.com"},
		&core.Identity{Groups: []core.Group{{Name: "admins"}}}))
	if d := q.Check(ctx, adapter.HTTPRequest(navigation())); !d.Allowed() {
		t.Errorf("member refused: %v", d.Err)
	}
	if len(events) != 1 || events[0].Outcome != core.OutcomeAllowed || events[0].Policy != "groups(admins)" {
		t.Errorf("events %+v", events)
	}
	c, q = adapterkit.Require[R, requireOption](core.AnyUser(), nil)
	if c.OnError != nil || c.Observe != nil {
		t.Errorf("config %+v", c)
	}
	if d := q.Check(core.ContextWithCaller(context.Background(), nil), adapter.HTTPRequest(navigation())); d.Err == nil ||
		d.Err.Code != core.CodeMissingToken {
		t.Errorf("no caller: %+v", d)
	}
}

// TestErrorHandler: a refusal goes to the options' error handler, unless it is a login
// redirect, which is always answered as such.
func TestErrorHandler(t *testing.T) {
	handlerErr := errors.New("handled")
	c, _ := adapterkit.Require(core.AnyUser(), []requireOption{
		adapterkit.WithErrorHandler(func(R, *core.Error) error { return handlerErr }),
	})
	refusal := adapter.Decision{Err: &core.Error{Code: core.CodeForbidden}}
	if h := c.ErrorHandler(refusal); h == nil || h(nil, refusal.Err) != handlerErr {
		t.Error("a refusal is not handed to the error handler")
	}
	redirect := adapter.Decision{Err: &core.Error{Code: core.CodeMissingToken}, Redirect: "https://team.example/login"}
	if h := c.ErrorHandler(redirect); h != nil {
		t.Error("a login redirect is handed to the error handler")
	}
	plain := &adapterkit.Config[R]{}
	if plain.ErrorHandler(refusal) != nil || plain.ErrorHandler(redirect) != nil {
		t.Error("an error handler without the option")
	}
}
