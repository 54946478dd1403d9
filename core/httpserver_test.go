package core_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
)

// guarded is an adapter over net/http in a few lines, as an application might write one.
func guarded(g *core.Guard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := g.Check(r.Context(), core.HTTPRequest(r))
		if !d.Allowed() {
			d.Response().Write(w)
			return
		}
		// With no caller (an anonymous request) too: the mark that the guard saw the request.
		next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), d.Caller)))
	})
}

// echoCaller answers with the caller's e-mail, or null.
func echoCaller(w http.ResponseWriter, r *http.Request) {
	var email *string
	if c, ok := core.FromContext(r.Context()); ok {
		email = &c.Email
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"caller": email})
}

// getWith sends a GET to u with the Host header host and the given headers, and follows no
// redirect.
func getWith(t *testing.T, u, host string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
