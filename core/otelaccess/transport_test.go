package otelaccess_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/core/otelaccess"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

const (
	certsSpan    = "GET /cdn-cgi/access/certs"
	identitySpan = "GET /cdn-cgi/access/get-identity"
)

func call(endpoint, class string) string {
	return "cfaccess.endpoint=" + endpoint + ",cfaccess.status_class=" + class
}

// requestCounts returns the counts of cfaccess.team.request.duration by attributes, and
// checks its unit and buckets.
func requestCounts(t *testing.T, rm metricdata.ResourceMetrics) map[string]int64 {
	t.Helper()
	if m, ok := find(rm, "cfaccess.team.request.duration"); ok && m.Unit != "s" {
		t.Errorf("cfaccess.team.request.duration unit %q, want s", m.Unit)
	}
	counts := make(map[string]int64)
	for k, p := range histogram(t, rm, "cfaccess.team.request.duration") {
		counts[k] = int64(p.Count)
		if !slices.Equal(p.Bounds, requestBuckets) {
			t.Errorf("request duration{%s} bounds %v, want the documented buckets", k, p.Bounds)
		}
	}
	return counts
}

// wantAttrs fails the test unless s carries each of want, and none of absent.
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want []attribute.KeyValue, absent ...attribute.Key) {
	t.Helper()
	got := spanAttrs(s)
	for _, kv := range want {
		if v, ok := got[kv.Key]; !ok || v != kv.Value {
			t.Errorf("span %s: %s = %q, want %q", s.Name(), kv.Key, v.String(), kv.Value.String())
		}
	}
	for _, k := range absent {
		if v, ok := got[k]; ok {
			t.Errorf("span %s: %s = %q, want none", s.Name(), k, v.String())
		}
	}
}

// Key fetches and get-identity calls of a real verifier get client spans, children of the
// request that needed them, and are timed by endpoint and status class; failures show as
// such; no token, e-mail or token ID is recorded anywhere.
func TestTransport(t *testing.T) {
	e := newEnv(t, nil)
	policy := e.guard(t, adapter.WithPolicy(core.Groups("admins")))
	users := []struct {
		email  string
		groups string
		fault  accesstest.Fault
		status int
	}{
		{"ann@example.com", "admins", accesstest.Healthy, http.StatusOK},
		{"bob@example.com", "staff", accesstest.Healthy, http.StatusForbidden},
		{"cy@example.com", "admins", accesstest.Status500, http.StatusServiceUnavailable},
		{"dee@example.com", "admins", accesstest.Reset, http.StatusServiceUnavailable},
	}
	var secrets []string
	for _, u := range users {
		tok := e.srv.User(u.email, u.groups)
		secrets = append(secrets, tok, u.email, core.TokenID(tok))
		e.srv.FailIdentity(u.fault)
		if got := get(t, policy.URL, tok); got != u.status {
			t.Fatalf("%s: status %d, want %d", u.email, got, u.status)
		}
	}
	e.srv.FailIdentity(accesstest.Healthy)
	testkit.Eventually(t, "the first key fetch's span", func() bool { return len(spansNamed(e.spans, certsSpan)) > 0 })

	base, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(base.Port())
	certs := spansNamed(e.spans, certsSpan)
	for _, s := range certs {
		if s.SpanKind() != trace.SpanKindClient || s.Parent().IsValid() || s.Status().Code != codes.Unset {
			t.Errorf("certs span: kind %v, parent %v, status %v; want a client root span, status unset", s.SpanKind(), s.Parent(), s.Status())
		}
		wantAttrs(t, s, []attribute.KeyValue{
			attribute.String("http.request.method", "GET"),
			attribute.String("url.template", "/cdn-cgi/access/certs"),
			attribute.String("url.full", e.srv.URL+"/cdn-cgi/access/certs"),
			attribute.String("server.address", base.Hostname()),
			attribute.Int("server.port", port),
			attribute.Int("http.response.status_code", 200),
			attribute.String("cfaccess.endpoint", "certs"),
		}, "error.type", "cfaccess.token_id")
	}

	requests := make(map[trace.SpanID]trace.TraceID)
	for _, s := range spansNamed(e.spans, "request") {
		requests[s.SpanContext().SpanID()] = s.SpanContext().TraceID()
	}
	ids := spansNamed(e.spans, identitySpan)
	if len(ids) != len(users) {
		t.Fatalf("%d get-identity spans, want %d", len(ids), len(users))
	}
	for i, s := range ids {
		if traceID, ok := requests[parentOf(s)]; !ok || traceID != s.SpanContext().TraceID() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("get-identity span %d: kind %v, parent %v; want a client span under the request's span", i, s.SpanKind(), s.Parent())
		}
		want := []attribute.KeyValue{
			attribute.String("http.request.method", "GET"),
			attribute.String("url.template", "/cdn-cgi/access/get-identity"),
			attribute.String("url.full", e.srv.URL+"/cdn-cgi/access/get-identity"),
			attribute.String("cfaccess.endpoint", "get_identity"),
		}
		switch users[i].fault {
		case accesstest.Healthy:
			wantAttrs(t, s, append(want, attribute.Int("http.response.status_code", 200)), "error.type", "cfaccess.token_id")
			if s.Status().Code != codes.Unset {
				t.Errorf("get-identity span %d: status %v, want unset", i, s.Status())
			}
		case accesstest.Status500:
			wantAttrs(t, s, append(want, attribute.Int("http.response.status_code", 500), attribute.String("error.type", "500")), "cfaccess.token_id")
			if s.Status().Code != codes.Error {
				t.Errorf("get-identity span %d: status %v, want error", i, s.Status())
			}
		case accesstest.Reset:
			wantAttrs(t, s, want, "http.response.status_code", "cfaccess.token_id")
			if s.Status().Code != codes.Error || s.Status().Description == "" || spanAttrs(s)["error.type"].String() == "" {
				t.Errorf("get-identity span %d: status %v, error.type %q; want an error that says why", i, s.Status(), spanAttrs(s)["error.type"].String())
			}
		}
	}

	rm := collect(t, e.reader)
	equalCounts(t, "cfaccess.team.request.duration", requestCounts(t, rm), map[string]int64{
		call("certs", "2xx"):          int64(len(certs)),
		call("get_identity", "2xx"):   2,
		call("get_identity", "5xx"):   1,
		call("get_identity", "error"): 1,
	})
	noSecrets(t, everything(e.spans.Ended(), rm), secrets...) // tokens, e-mails, token IDs
}

// With WithTokenID, get-identity spans carry the token's ID, and nothing else does.
func TestTransportTokenID(t *testing.T) {
	e := newEnv(t, nil, otelaccess.WithTokenID())
	if _, err := e.tel.Watch(e.v); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	tok := e.srv.User("ann@example.com", "admins")
	if got := get(t, e.guard(t, adapter.WithPolicy(core.Groups("admins"))).URL, tok); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	testkit.Eventually(t, "the first key fetch's span", func() bool { return len(spansNamed(e.spans, certsSpan)) > 0 })
	ids := spansNamed(e.spans, identitySpan)
	if len(ids) != 1 {
		t.Fatalf("%d get-identity spans, want 1", len(ids))
	}
	wantAttrs(t, ids[0], []attribute.KeyValue{attribute.String("cfaccess.token_id", core.TokenID(tok))})
	for _, s := range spansNamed(e.spans, certsSpan) {
		wantAttrs(t, s, nil, "cfaccess.token_id")
	}

	noSecrets(t, everything(nil, collect(t, e.reader)), tok, "ann@example.com", core.TokenID(tok))
	noSecrets(t, everything(e.spans.Ended(), metricdata.ResourceMetrics{}), tok, "ann@example.com")
}

// roundTripper is an http.RoundTripper of a function.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The Transport on its own: a call lasts until its answer is read or closed; other paths
// are "other"; the query and user information of a URL are not recorded; failures of the
// base transport are classified; the base sees the call's span in its context.
func TestTransportCalls(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	tel, err := otelaccess.New(
		otelaccess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		otelaccess.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cdn-cgi/access/certs" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, strings.Repeat("k", 64<<10))
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	var seen trace.SpanContext
	base := roundTripper(func(r *http.Request) (*http.Response, error) {
		seen = trace.SpanContextFromContext(r.Context())
		return http.DefaultTransport.RoundTrip(r)
	})
	client := &http.Client{Transport: tel.Transport(base)}

	resp, err := client.Get("http://user:pa55word@" + host + "/cdn-cgi/access/certs?s3cret=1")
	if err != nil {
		t.Fatalf("GET certs: %v", err)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
		t.Fatalf("reading: %v", err)
	}
	if n := len(spans.Ended()); n != 0 {
		t.Errorf("%d spans ended before the answer was read", n)
	}
	resp.Body.Close()
	certs := spansNamed(spans, certsSpan)
	if len(certs) != 1 {
		t.Fatalf("%d certs spans after Close, want 1", len(certs))
	}
	if !seen.Equal(certs[0].SpanContext()) {
		t.Errorf("the base transport saw span %v, want the call's %v", seen, certs[0].SpanContext())
	}
	wantAttrs(t, certs[0], []attribute.KeyValue{attribute.String("url.full", "http://"+host+"/cdn-cgi/access/certs")})

	resp, err = client.Get(srv.URL + "/cdn-cgi/access/certs") // read to the end, not closed
	if err != nil {
		t.Fatalf("GET certs: %v", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("reading: %v", err)
	}
	if n := len(spansNamed(spans, certsSpan)); n != 2 {
		t.Errorf("%d certs spans after reading the second answer to its end, want 2", n)
	}
	resp.Body.Close()

	resp, err = client.Get(srv.URL + "/elsewhere")
	if err != nil {
		t.Fatalf("GET elsewhere: %v", err)
	}
	resp.Body.Close()
	other := spansNamed(spans, "GET")
	if len(other) != 1 {
		t.Fatalf("%d spans named GET, want 1", len(other))
	}
	wantAttrs(t, other[0], []attribute.KeyValue{
		attribute.String("cfaccess.endpoint", "other"),
		attribute.Int("http.response.status_code", 404),
		attribute.String("error.type", "404"),
	}, "url.template")

	for _, f := range []struct {
		err  error
		kind string
	}{
		{context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{errors.New("no route"), "*errors.errorString"},
	} {
		failing := &http.Client{Transport: tel.Transport(roundTripper(func(*http.Request) (*http.Response, error) { return nil, f.err }))}
		if _, err := failing.Get(srv.URL + "/cdn-cgi/access/certs"); err == nil {
			t.Fatalf("%v: no error", f.err)
		}
		s := spans.Ended()[len(spans.Ended())-1]
		wantAttrs(t, s, []attribute.KeyValue{attribute.String("error.type", f.kind)}, "http.response.status_code")
		if s.Status().Code != codes.Error {
			t.Errorf("%v: span status %v, want error", f.err, s.Status())
		}
	}

	rm := collect(t, reader)
	equalCounts(t, "cfaccess.team.request.duration", requestCounts(t, rm), map[string]int64{
		call("certs", "2xx"):   2,
		call("certs", "error"): 3,
		call("other", "4xx"):   1,
	})
	noSecrets(t, everything(spans.Ended(), rm), "s3cret", "pa55word")
}
