package forwardauth_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/forwardauth"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// serviceID is the client ID of the service token that the proxies' configurations admit
// on /api (testdata).
const serviceID = "0123456789abcdef0123456789abcdef.access"

// server serves a forward-auth Handler over v on loopback.
type server struct {
	*httptest.Server
	v   *core.Verifier
	log *testkit.LogBuffer
}

func newServer(t testing.TB, v *core.Verifier, o forwardauth.Options) *server {
	t.Helper()
	log := &testkit.LogBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	h, err := forwardauth.NewHandler(v, o)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return &server{Server: s, v: v, log: log}
}

// auth is an auth request as a proxy sends it.
type auth struct {
	query  string // the location's policy
	token  string // in the Cf-Access-Jwt-Assertion header
	cookie string // in the CF_Authorization cookie
	host   string // X-Forwarded-Host; "" for none
	method string // X-Forwarded-Method; "" for none
	uri    string // X-Forwarded-Uri; "" for none
	header http.Header
}

// answer is the server's answer to an auth request.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) ask(t testing.TB, a auth) answer {
	t.Helper()
	return s.askPath(t, forwardauth.PathAuth, a)
}

func (s *server) askPath(t testing.TB, path string, a auth) answer {
	t.Helper()
	u := s.URL + path
	if a.query != "" {
		u += "?" + a.query
	}
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range a.header {
		r.Header[k] = vs
	}
	if a.token != "" {
		r.Header.Set(core.HeaderName, a.token)
	}
	if a.cookie != "" {
		r.AddCookie(&http.Cookie{Name: core.CookieName, Value: a.cookie})
	}
	if a.host != "" {
		r.Header.Set("X-Forwarded-Host", a.host)
	}
	if a.method != "" {
		r.Header.Set("X-Forwarded-Method", a.method)
	}
	if a.uri != "" {
		r.Header.Set("X-Forwarded-Uri", a.uri)
	}
	c := *s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(r)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// errorCode returns the "error" field of a refusal's JSON body, failing the test when the
// body is not the middleware's JSON.
func (a answer) errorCode(t testing.TB) core.Code {
	t.Helper()
	var b struct {
		Error   core.Code `json:"error"`
		Message string    `json:"message"`
	}
	if err := json.Unmarshal(a.body, &b); err != nil || b.Error == "" || b.Message == "" {
		t.Fatalf("body %q is not a refusal's JSON {error, message} (%v)", a.body, err)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want the middleware's JSON", ct)
	}
	return b.Error
}

// wantRefusal checks that a is the refusal status/code, answered exactly as the cfaccess
// middleware answers the same request (status, headers, body).
func wantRefusal(t testing.TB, a answer, status int, code core.Code, middleware adapter.Response) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status = %d (%s), want %d", a.status, a.body, status)
	}
	if got := a.errorCode(t); got != code {
		t.Errorf("error = %q, want %q", got, code)
	}
	if middleware.Status != a.status || !bytes.Equal(middleware.Body, a.body) {
		t.Errorf("answer %d %s, but the middleware answers %d %s", a.status, a.body, middleware.Status, middleware.Body)
	}
	for k, v := range middleware.Headers() {
		if got := a.header.Get(k); got != v {
			t.Errorf("header %s = %q, the middleware's is %q", k, got, v)
		}
	}
	for _, h := range []string{forwardauth.HeaderUser, forwardauth.HeaderEmail, forwardauth.HeaderGroups, forwardauth.HeaderServiceToken} {
		if _, ok := a.header[h]; ok {
			t.Errorf("a refusal carries %s: %q", h, a.header.Get(h))
		}
	}
}

// middlewareAnswer is the cfaccess middleware's answer, with v and opts, to a request for
// https://app.example.com/ that carries token.
func middlewareAnswer(t testing.TB, v *core.Verifier, token string, opts ...adapter.Option) adapter.Response {
	t.Helper()
	g, err := adapter.NewGuard(v, opts...)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	if token != "" {
		r.Header.Set(core.HeaderName, token)
	}
	return g.Check(r.Context(), adapter.HTTPRequest(r)).Response()
}

// wantAllowed checks that a lets the request through with these identity headers.
func wantAllowed(t testing.TB, a answer, user, email, groups, service string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", a.status, a.body)
	}
	for _, h := range []struct{ name, want string }{
		{forwardauth.HeaderUser, user},
		{forwardauth.HeaderEmail, email},
		{forwardauth.HeaderGroups, groups},
		{forwardauth.HeaderServiceToken, service},
	} {
		vs, ok := a.header[h.name]
		if !ok || len(vs) != 1 || vs[0] != h.want {
			t.Errorf("%s = %q (present: %v), want exactly %q", h.name, vs, ok, h.want)
		}
	}
}
