package adapter_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// clock is a settable time source for Config.Now, so that expiry can be crossed without
// sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// logBuffer collects log output, so that tests can read it (and check it never holds a
// token).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// captureDefaultLog points slog.Default at a buffer until the test ends. Tests that call it
// must not run in parallel with others that log through slog.Default.
func captureDefaultLog(t *testing.T) *logBuffer {
	t.Helper()
	var logs logBuffer
	old := slog.Default()
	slog.SetDefault(slogTo(&logs))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &logs
}

// newServer starts a fake team domain that closes with the test.
func newServer(t testing.TB) *accesstest.Server {
	t.Helper()
	srv := accesstest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// testConfig is srv's configuration with a quiet logger and the given clock (nil: real
// time). NewVerifier waits for the first key fetch, and a request that joins a fetch waits
// for its end, for a minute: what a test sees must not depend on how loaded the machine is.
func testConfig(srv *accesstest.Server, clk *clock) core.Config {
	cfg := srv.Config()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Keys.StartupWait = time.Minute
	cfg.Keys.FetchWait = time.Minute
	if clk != nil {
		cfg.Now = clk.Now
	}
	return cfg
}

func newVerifier(t testing.TB, cfg core.Config) *core.Verifier {
	t.Helper()
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// loggingVerifier is a verifier of srv whose Logger writes, at every level, to the buffer
// returned.
func loggingVerifier(t *testing.T, srv *accesstest.Server) (*core.Verifier, *logBuffer) {
	t.Helper()
	var logs logBuffer
	cfg := testConfig(srv, nil)
	cfg.Logger = slogTo(&logs)
	return newVerifier(t, cfg), &logs
}

func newGuard(t testing.TB, v *core.Verifier, opts ...adapter.Option) *adapter.Guard {
	t.Helper()
	g, err := adapter.NewGuard(v, opts...)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	return g
}

// wantCode fails the test unless err is a *core.Error with code (and reason, when not empty).
func wantCode(t testing.TB, err error, code core.Code, reason core.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %s/%s", code, reason)
	}
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *core.Error %s/%s", err, err, code, reason)
	}
	if e.Code != code || (reason != "" && e.Reason != reason) {
		t.Fatalf("error = %s/%s (%v), want %s/%s", e.Code, e.Reason, err, code, reason)
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
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

// origin serves h on a loopback port until the test ends.
func origin(t testing.TB, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// ok answers 200 with the caller's e-mail, or null: what the handler behind a guard saw.
func ok(w http.ResponseWriter, r *http.Request) {
	var email *string
	if c, found := core.CallerFromContext(r.Context()); found {
		email = &c.Claims.Email
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"caller": email})
}

// response is what a client received.
type response struct {
	status int
	header http.Header
	body   string
}

// get sends a GET to u with the Host header host (none: u's) and the given headers, follows
// no redirect, and reads the whole answer.
func get(t testing.TB, u, host string, headers map[string]string) response {
	t.Helper()
	return do(t, "GET", u, host, headers)
}

func do(t testing.TB, method, u, host string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(body)}
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

func segments(t testing.TB, token string) (header, payload, sig string) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("token has %d segments", len(p))
	}
	return p[0], p[1], p[2]
}
