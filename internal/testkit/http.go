package testkit

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Response is what a client received, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// TB is the part of testing.TB that starting a server needs: the conformance suite hands
// adapters no more.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Serve serves h on a loopback port until the test ends and returns its base URL.
func Serve(t TB, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// Get sends GET url; see Send.
func Get(t testing.TB, url, host string, headers map[string]string) Response {
	t.Helper()
	return Send(t, http.MethodGet, url, host, headers)
}

// Send sends a request with no body to url, with the Host header host (none: url's) and the
// given headers, follows no redirect, and reads the whole answer. It fails the test when
// there is none.
func Send(t testing.TB, method, url, host string, headers map[string]string) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
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
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return Response{resp.StatusCode, resp.Header, string(body)}
}

// Listen listens on a free loopback port until the test ends.
func Listen(t TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// FreePort returns a loopback port that was free a moment ago. Whoever then listens on it
// may find it taken, and must be ready to try another.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
