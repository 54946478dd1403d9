package teamclient_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/teamclient"
)

// team serves h on loopback as a team domain, until the test ends.
func team(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestGet(t *testing.T) {
	type seen struct{ path, accept, cookie string }
	got := make(chan seen, 2)
	srv := team(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Accept"), r.Header.Get("Cookie")}
		_, _ = io.WriteString(w, `{"keys":[]}`)
	})
	c := teamclient.New(srv.URL, nil, time.Minute)
	body, status, err := c.Get(context.Background(), teamclient.CertsPath, "")
	if err != nil || status != 200 || string(body) != `{"keys":[]}` {
		t.Fatalf("Get = %q, %d, %v", body, status, err)
	}
	if s := <-got; s != (seen{teamclient.CertsPath, "application/json", ""}) {
		t.Errorf("the team domain saw %+v", s)
	}
	if _, _, err := c.Get(context.Background(), teamclient.IdentityPath, "a.b.c"); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != (seen{teamclient.IdentityPath, "application/json", "CF_Authorization=a.b.c"}) {
		t.Errorf("the team domain saw %+v", s)
	}
}

func TestGetStatus(t *testing.T) {
	for _, status := range []int{201, 204, 301, 400, 401, 403, 404, 500, 503} {
		srv := team(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"keys":[]}`)
		})
		body, got, err := teamclient.New(srv.URL, nil, time.Minute).Get(context.Background(), teamclient.CertsPath, "")
		if err == nil || body != nil || got != status || !strings.Contains(err.Error(), fmt.Sprint(status)) {
			t.Errorf("status %d: Get = %q, %d, %v", status, body, got, err)
		}
	}
}

// TestRedirects: redirects within the team domain are followed, within reason; to any other
// origin they are refused, whatever the base client allows; the base client's own rule still
// applies within the team domain.
func TestRedirects(t *testing.T) {
	other := team(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "elsewhere") })
	var srv *httptest.Server
	srv = team(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/other-name":
			// The same listener under another name is another origin.
			http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/here", http.StatusFound)
		case "/https":
			http.Redirect(w, r, strings.Replace(srv.URL, "http://", "https://", 1)+"/here", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/here":
			_, _ = io.WriteString(w, "here")
		}
	})
	permissive := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	c := teamclient.New(srv.URL, permissive, time.Minute)
	if permissive.CheckRedirect == nil || permissive.Transport != nil {
		t.Fatal("New changed the base client")
	}
	if body, _, err := c.Get(context.Background(), "/moved", ""); err != nil || string(body) != "here" {
		t.Errorf("a redirect within the team domain: %q, %v", body, err)
	}
	for _, path := range []string{"/away", "/other-name", "/https"} {
		body, _, err := c.Get(context.Background(), path, "")
		if err == nil || !strings.Contains(err.Error(), "refused") || body != nil {
			t.Errorf("%s: %q, %v", path, body, err)
		}
	}
	if _, _, err := c.Get(context.Background(), "/loop", ""); err == nil || !strings.Contains(err.Error(), "5 redirects") {
		t.Errorf("a redirect loop: %v", err)
	}

	strict := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }}
	if _, _, err := teamclient.New(srv.URL, strict, time.Minute).Get(context.Background(), "/moved", ""); err == nil ||
		!strings.Contains(err.Error(), "no redirects here") {
		t.Errorf("the base client's rule: %v", err)
	}
}

// TestBodyBound: at most MaxBodySize bytes of an answer are read, as the server wrote them:
// whether it declared a length, sent chunks, or compressed them.
func TestBodyBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		gzip bool
		ok   bool
	}{
		{"exactly the bound", teamclient.MaxBodySize, false, true},
		{"a byte over", teamclient.MaxBodySize + 1, false, false},
		{"far over", 8 * teamclient.MaxBodySize, false, false},
		{"compressed, within", teamclient.MaxBodySize, true, true},
		{"compressed, over", 8 * teamclient.MaxBodySize, true, false},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, chunked %v", tc.name, chunked), func(t *testing.T) {
				srv := team(t, func(w http.ResponseWriter, r *http.Request) {
					var out io.Writer = w
					if tc.gzip {
						w.Header().Set("Content-Encoding", "gzip")
						zw := gzip.NewWriter(w)
						defer zw.Close()
						out = zw
					} else if !chunked {
						w.Header().Set("Content-Length", fmt.Sprint(tc.size))
					}
					chunk := bytes.Repeat([]byte("a"), 32<<10)
					for left := tc.size; left > 0; left -= len(chunk) {
						if _, err := out.Write(chunk[:min(left, len(chunk))]); err != nil {
							return // the client stopped reading
						}
						if chunked {
							http.NewResponseController(w).Flush()
						}
					}
				})
				body, status, err := teamclient.New(srv.URL, nil, time.Minute).Get(context.Background(), teamclient.CertsPath, "")
				switch {
				case tc.ok && (err != nil || len(body) != tc.size):
					t.Fatalf("Get = %d bytes, %v", len(body), err)
				case !tc.ok && (err == nil || body != nil || status != 200 || !strings.Contains(err.Error(), "larger than")):
					t.Fatalf("Get = %d bytes, %d, %v", len(body), status, err)
				}
			})
		}
	}
}

// TestTimeout: a team domain that accepts the request and never answers costs the timeout,
// not forever; so does one that answers its headers and then stalls its body.
func TestTimeout(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	srv := team(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall-body" {
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "{")
			http.NewResponseController(w).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	c := teamclient.New(srv.URL, nil, 50*time.Millisecond)
	for _, path := range []string{"/hang", "/stall-body"} {
		type result struct {
			status int
			err    error
		}
		res := make(chan result, 1)
		go func() {
			_, status, err := c.Get(context.Background(), path, "")
			res <- result{status, err}
		}()
		select {
		case r := <-res:
			if r.err == nil || !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("%s: %d, %v; want the deadline", path, r.status, r.err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: no answer long after the timeout", path)
		}
	}

	// The caller's context counts too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, status, err := teamclient.New(srv.URL, nil, time.Hour).Get(ctx, "/hang", ""); err == nil || status != 0 ||
		!errors.Is(err, context.Canceled) {
		t.Errorf("a canceled context: %d, %v", status, err)
	}
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	body, status, err := teamclient.New(url, nil, time.Minute).Get(context.Background(), teamclient.CertsPath, "")
	if err == nil || body != nil || status != 0 || !strings.HasPrefix(err.Error(), "GET "+teamclient.CertsPath+": ") ||
		strings.Contains(err.Error(), url+teamclient.CertsPath) {
		t.Errorf("Get = %q, %d, %v", body, status, err)
	}
}
