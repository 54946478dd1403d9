package adapter_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// loggingVerifier is a verifier of srv whose Logger writes, at every level, to the buffer
// returned.
func loggingVerifier(t *testing.T, srv *accesstest.Server) (*core.Verifier, *testkit.LogBuffer) {
	t.Helper()
	var logs testkit.LogBuffer
	cfg := testkit.Config(srv, nil)
	cfg.Logger = testkit.DebugLogger(&logs)
	return testkit.NewVerifier(t, cfg), &logs
}

func newGuard(t testing.TB, v *core.Verifier, opts ...adapter.Option) *adapter.Guard {
	t.Helper()
	g, err := adapter.NewGuard(v, opts...)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	return g
}

// requestWith is a GET carrying token in the Access header.
func requestWith(token string) adapter.Request {
	r := httptest.NewRequest("GET", "https://app.example.com/admin?tab=1", nil)
	if token != "" {
		r.Header.Set(core.HeaderName, token)
	}
	return adapter.HTTPRequest(r)
}

// middleware is the minimal net/http adapter of the package documentation: the guard
// decides, the response writes a refusal, the caller goes on in the context.
func middleware(g *adapter.Guard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := g.Check(r.Context(), adapter.HTTPRequest(r))
		if !d.Allowed() {
			d.Response().Write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), d.Caller)))
	})
}

// require is a route requirement in front of next, as an adapter's Require writes it.
func require(q *adapter.Requirement, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d := q.Check(r.Context(), adapter.HTTPRequest(r)); !d.Allowed() {
			d.Response().Write(w)
			return
		}
		next(w, r)
	}
}

// ok answers 200 with the caller's e-mail, or null: what the handler behind a guard saw.
func ok(w http.ResponseWriter, r *http.Request) {
	var email *string
	if c, found := core.CallerFromContext(r.Context()); found {
		email = &c.Claims.Email
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"caller": email})
}

// errorBody reads a refusal's JSON body.
func errorBody(t testing.TB, body string) (code, message string) {
	t.Helper()
	var b struct{ Error, Message string }
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	return b.Error, b.Message
}
