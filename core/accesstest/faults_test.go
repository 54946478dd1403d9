package accesstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// answers checks what a request gets from an endpoint set to each fault that answers at
// once, given what the endpoint answers when healthy.
var answers = map[accesstest.Fault]func(t *testing.T, r response, healthy []byte){
	accesstest.Healthy: func(t *testing.T, r response, healthy []byte) {
		if r.status != http.StatusOK || !bytes.Equal(r.body, healthy) {
			t.Errorf("got %d %q, want 200 with the real body", r.status, r.body)
		}
	},
	accesstest.Status500: func(t *testing.T, r response, _ []byte) {
		if r.status != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", r.status)
		}
	},
	accesstest.Status404: func(t *testing.T, r response, _ []byte) {
		if r.status != http.StatusNotFound {
			t.Errorf("status %d, want 404", r.status)
		}
	},
	accesstest.Garbage: func(t *testing.T, r response, _ []byte) {
		if r.status != http.StatusOK || len(r.body) == 0 || json.Valid(r.body) {
			t.Errorf("status %d, body %q: want 200 with a body that is not JSON", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json (the lie is the point)", ct)
		}
	},
	accesstest.Truncated: func(t *testing.T, r response, healthy []byte) {
		if r.status != http.StatusOK {
			t.Errorf("status %d, want 200", r.status)
		}
		if want := healthy[:len(healthy)/2]; !bytes.Equal(r.body, want) {
			t.Errorf("body of %d bytes, want the first half (%d bytes) of the real one", len(r.body), len(want))
		}
		if json.Valid(r.body) {
			t.Error("truncated body is valid JSON")
		}
	},
	accesstest.Huge: func(t *testing.T, r response, _ []byte) {
		if r.status != http.StatusOK {
			t.Errorf("status %d, want 200", r.status)
		}
		if len(r.body) < 2<<20 || !json.Valid(r.body) {
			t.Errorf("body of %d bytes (valid JSON: %v), want valid JSON of at least 2 MiB", len(r.body), json.Valid(r.body))
		}
	},
}

// checkAnswer checks r against what fault f answers.
func checkAnswer(t *testing.T, f accesstest.Fault, r response, healthy []byte) {
	t.Helper()
	if r.err != nil {
		t.Errorf("got %v, want an answer", r.err)
		return
	}
	answers[f](t, r, healthy)
}

// unanswered checks that p, which the server has received, is not answered until the client
// gives up, and then ends as given up. A correct server never answers; the moment allowed
// first only lets a wrong answer show, so load can delay a failure but never fake one.
func unanswered(t *testing.T, p *pending) {
	t.Helper()
	select {
	case r := <-p.done:
		t.Fatalf("answered %d with %d bytes (%v), want no answer", r.status, len(r.body), r.err)
	case <-time.After(100 * time.Millisecond):
	}
	p.cancel()
	if r := p.wait(t, "the request given up"); !errors.Is(r.err, context.Canceled) {
		t.Errorf("got %d with %d bytes (%v), want the request given up unanswered", r.status, len(r.body), r.err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// noRedirects is a client that reports redirects instead of following them.
func noRedirects(t *testing.T) *http.Client {
	c := newClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// faultEnv is what a fault check needs: the endpoint's URL, the cookie to send, the body the
// endpoint gives when healthy, and its request count before the check.
type faultEnv struct {
	srv     *accesstest.Server
	ep      endpoint
	url     string
	cookie  string
	healthy []byte
	before  int
}

// arrived waits for the check's request to reach the server.
func (e faultEnv) arrived(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, "the request to arrive", func() bool { return e.ep.count(e.srv) > e.before })
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault accesstest.Fault
		name  string
		// check sends the request and checks what it gets; nil: a GET, checked by answers.
		check func(t *testing.T, e faultEnv)
	}{
		{accesstest.Status500, "Status500", nil},
		{accesstest.Status404, "Status404", nil},
		{accesstest.Garbage, "Garbage", nil},
		{accesstest.Truncated, "Truncated", nil},
		{accesstest.Huge, "Huge", nil},
		{accesstest.Hang, "Hang", func(t *testing.T, e faultEnv) {
			p := send(t, e.url, e.cookie)
			e.arrived(t)
			unanswered(t, p)
		}},
		{accesstest.SlowDrip, "SlowDrip", func(t *testing.T, e faultEnv) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := do(ctx, newClient(t), e.url, e.cookie)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
			// A patient client gets the real body, a byte at a time.
			first := make([]byte, 3)
			if _, err := io.ReadFull(resp.Body, first); err != nil || !bytes.Equal(first, e.healthy[:3]) {
				t.Errorf("first bytes %q (%v), want %q", first, err, e.healthy[:3])
			}
			// An impatient one gives up before the body is complete. A byte comes every 100 ms,
			// so a second brings a few of the hundreds left, where a body sent whole would be
			// complete: load only slows the drip, so it cannot fake a failure.
			stop := time.AfterFunc(time.Second, cancel)
			defer stop.Stop()
			rest, err := io.ReadAll(resp.Body)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("reading the rest: %v after %d bytes, want it given up", err, len(rest))
			}
			if len(rest) >= len(e.healthy)-3 || !bytes.HasPrefix(e.healthy[3:], rest) {
				t.Errorf("read %q in a second, want a strict prefix of the rest of the real body", rest)
			}
		}},
		{accesstest.Reset, "Reset", func(t *testing.T, e faultEnv) {
			resp, err := do(context.Background(), newClient(t), e.url, e.cookie)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want a connection error", resp.StatusCode)
			}
			if isTimeout(err) {
				t.Errorf("error %v is a timeout, want the connection closed at once", err)
			}
		}},
		{accesstest.RedirectAway, "RedirectAway", func(t *testing.T, e faultEnv) {
			resp, err := do(context.Background(), noRedirects(t), e.url, e.cookie)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302", resp.StatusCode)
			}
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			orig, err := url.Parse(e.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Hostname() != "localhost" || loc.Port() != orig.Port() || loc.Path != e.ep.path {
				t.Errorf("Location %s, want the same path on localhost:%s", loc, orig.Port())
			}
			if loc.Scheme+"://"+loc.Host == e.srv.URL {
				t.Errorf("Location %s is on the same origin", loc)
			}
			// The other origin answers normally, fault or not.
			r := get(t, loc.String(), e.cookie)
			if r.status != http.StatusOK || !bytes.Equal(r.body, e.healthy) {
				t.Errorf("the redirect target answered %d %q, want 200 with the real body", r.status, r.body)
			}
		}},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			srv := testkit.NewTeam(t)
			e := faultEnv{srv: srv, ep: ep, url: srv.URL + ep.path,
				cookie: cookieFor(srv.User("ann@example.com", "admins"))}
			healthy := get(t, e.url, e.cookie)
			if healthy.status != http.StatusOK || !json.Valid(healthy.body) {
				t.Fatalf("healthy endpoint: status %d, body %s", healthy.status, healthy.body)
			}
			e.healthy = healthy.body

			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ep.fail(srv, tt.fault)
					e := e
					e.before = ep.count(srv)
					if tt.check != nil {
						tt.check(t, e)
					} else {
						checkAnswer(t, tt.fault, get(t, e.url, e.cookie), e.healthy)
					}
					e.arrived(t)

					// The fault is this endpoint's only.
					if r := get(t, srv.URL+ep.other().path, e.cookie); r.status != http.StatusOK {
						t.Errorf("%s answered %d while %s was faulty", ep.other().name, r.status, ep.name)
					}
					// Healthy restores the real answer.
					ep.fail(srv, accesstest.Healthy)
					checkAnswer(t, accesstest.Healthy, get(t, e.url, e.cookie), e.healthy)
				})
			}
		})
	}
}

func TestHeld(t *testing.T) {
	for _, ep := range endpoints {
		for _, tt := range []struct {
			name    string
			release accesstest.Fault
		}{
			{"released to Healthy", accesstest.Healthy},
			{"released to Status500", accesstest.Status500},
			{"released to Garbage", accesstest.Garbage},
			{"released to Truncated", accesstest.Truncated},
		} {
			t.Run(ep.name+"/"+tt.name, func(t *testing.T) {
				srv := testkit.NewTeam(t)
				cookie := cookieFor(srv.User("ann@example.com", "admins"))
				url := srv.URL + ep.path
				healthy := get(t, url, cookie)
				if healthy.status != http.StatusOK {
					t.Fatalf("healthy status %d", healthy.status)
				}
				ep.fail(srv, accesstest.Held)
				ep.fail(srv, accesstest.Held) // holding twice is holding once
				base := ep.count(srv)

				held := make([]*pending, 3)
				for i := range held {
					held[i] = send(t, url, cookie)
				}
				testkit.Eventually(t, "the held requests to arrive", func() bool { return ep.count(srv) == base+len(held) })
				// The other endpoint is not held.
				if r := get(t, srv.URL+ep.other().path, cookie); r.status != http.StatusOK {
					t.Errorf("%s answered %d while %s was held", ep.other().name, r.status, ep.name)
				}
				for _, p := range held {
					if r, ok := p.answered(); ok {
						t.Fatalf("a held request was answered: %d with %d bytes (%v)", r.status, len(r.body), r.err)
					}
				}

				ep.fail(srv, tt.release)
				for _, p := range held {
					checkAnswer(t, tt.release, p.wait(t, "a released request"), healthy.body)
				}
				// Once released, new requests are not held either.
				checkAnswer(t, tt.release, send(t, url, cookie).wait(t, "a request after the release"), healthy.body)
			})
		}
		t.Run(ep.name+"/until the client gives up", func(t *testing.T) {
			srv := testkit.NewTeam(t)
			cookie := cookieFor(srv.User("ann@example.com"))
			ep.fail(srv, accesstest.Held)
			p := send(t, srv.URL+ep.path, cookie)
			testkit.Eventually(t, "the request to arrive", func() bool { return ep.count(srv) == 1 })
			unanswered(t, p)
		})
	}
}

// Releasing held requests to a fault and holding the endpoint again right away (to catch the
// next requests) must not change what the released ones answer.
func TestHeldReleaseThenHoldAgain(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			srv := testkit.NewTeam(t)
			cookie := cookieFor(srv.User("ann@example.com"))
			ep.fail(srv, accesstest.Held)
			held := make([]*pending, 3)
			for i := range held {
				held[i] = send(t, srv.URL+ep.path, cookie)
			}
			testkit.Eventually(t, "the held requests to arrive", func() bool { return ep.count(srv) == len(held) })
			ep.fail(srv, accesstest.Status500) // release them with a 500 ...
			ep.fail(srv, accesstest.Held)      // ... and hold whatever comes next
			for _, p := range held {
				var r response
				select {
				case r = <-p.done:
				case <-time.After(5 * time.Second):
					// Counted but not yet held when released, and so held again: acceptable, as
					// long as it answers the next release. A released request answers at once,
					// whatever the endpoint is set to since; a wrong answer shows long before this.
					ep.fail(srv, accesstest.Status500)
					r = p.wait(t, "a request held again")
				}
				if r.err != nil || r.status != http.StatusInternalServerError {
					t.Errorf("a request released to Status500 answered %d (%v)", r.status, r.err)
				}
			}
		})
	}
}
