package otelaccess_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/core/otelaccess"
)

// The buckets of the histograms, as the package documentation gives them.
var (
	decisionBuckets = []float64{
		0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
		0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	}
	requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
)

// env is a fake team domain, a verifier of it whose calls go through a Telemetry's
// Transport, and the SDK's metric reader and span recorder behind that Telemetry.
type env struct {
	srv    *accesstest.Server
	reader *sdkmetric.ManualReader // nil when newEnvReader was given another reader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	tel    *otelaccess.Telemetry
	cfg    core.Config // the verifier's
	v      *core.Verifier
}

// newEnv starts an env with a manual reader; edit, when not nil, adjusts the fake team
// domain and the verifier's configuration before the verifier starts.
func newEnv(t *testing.T, edit func(*accesstest.Server, *core.Config), opts ...otelaccess.Option) *env {
	t.Helper()
	r := sdkmetric.NewManualReader()
	e := newEnvReader(t, r, edit, opts...)
	e.reader = r
	return e
}

// newEnvReader is newEnv with the metric reader r.
func newEnvReader(t *testing.T, r sdkmetric.Reader, edit func(*accesstest.Server, *core.Config), opts ...otelaccess.Option) *env {
	t.Helper()
	e := &env{srv: accesstest.NewServer(), spans: tracetest.NewSpanRecorder()}
	t.Cleanup(e.srv.Close)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = e.tp.Shutdown(context.Background())
	})
	tel, err := otelaccess.New(append([]otelaccess.Option{
		otelaccess.WithMeterProvider(mp), otelaccess.WithTracerProvider(e.tp),
	}, opts...)...)
	if err != nil {
		t.Fatalf("otelaccess.New: %v", err)
	}
	e.tel = tel
	e.cfg = e.srv.Config()
	e.cfg.HTTPClient = &http.Client{Transport: tel.Transport(nil)}
	e.cfg.Keys.StartupWait = 30 * time.Second // the first key set, on a busy machine
	e.cfg.Logger = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(e.srv, &e.cfg)
	}
	e.v, err = core.NewVerifier(e.cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return e
}

// guard returns a loopback server that answers 200 to what a guard over e's verifier, with
// e's Telemetry observing it, allows, and the guard's refusal otherwise. Each request runs
// under a span named "request" of e's tracer provider, as under a tracing middleware.
func (e *env) guard(t *testing.T, opts ...adapter.Option) *httptest.Server {
	t.Helper()
	return e.guardOver(t, e.v, opts...)
}

// guardOver is guard over v.
func (e *env) guardOver(t *testing.T, v *core.Verifier, opts ...adapter.Option) *httptest.Server {
	t.Helper()
	g, err := adapter.NewGuard(v, append([]adapter.Option{adapter.WithObserver(e.tel.Observe)}, opts...)...)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	tracer := e.tp.Tracer("test")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "request")
		defer span.End()
		if d := g.Check(ctx, adapter.HTTPRequest(r)); !d.Allowed() {
			d.Response().Write(w)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// get sends GET url with token in the Access header (none when empty) and the given extra
// headers (name, value pairs), and returns the status.
func get(t *testing.T, url, token string, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if token != "" {
		req.Header.Set(core.HeaderName, token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// collect reads every metric of the reader.
func collect(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return rm
}

// find returns the metric called name, if it was recorded.
func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// attrKey spells an attribute set as "k=v,k=v", sorted by key.
func attrKey(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// metricData returns the data of the metric called name; it fails the test when the metric
// is absent or its data is not a D.
func metricData[D metricdata.Aggregation](t *testing.T, rm metricdata.ResourceMetrics, name string) D {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		t.Fatalf("metric %s not recorded", name)
	}
	d, ok := m.Data.(D)
	if !ok {
		t.Fatalf("metric %s is a %T, want %T", name, m.Data, d)
	}
	return d
}

// intSum returns the points of the int64 sum called name, by attrKey.
func intSum(t *testing.T, rm metricdata.ResourceMetrics, name string) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	for _, p := range metricData[metricdata.Sum[int64]](t, rm, name).DataPoints {
		got[attrKey(p.Attributes)] = p.Value
	}
	return got
}

// histogram returns the points of the float64 histogram called name, by attrKey.
func histogram(t *testing.T, rm metricdata.ResourceMetrics, name string) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	got := make(map[string]metricdata.HistogramDataPoint[float64])
	for _, p := range metricData[metricdata.Histogram[float64]](t, rm, name).DataPoints {
		got[attrKey(p.Attributes)] = p
	}
	return got
}

// equalCounts fails the test unless got and want hold the same points.
func equalCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	keys := make([]string, 0, len(got)+len(want))
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s{%s}: absent, want %d", what, k, w)
		case !wok:
			t.Errorf("%s{%s} = %d, want no such point", what, k, g)
		case g != w:
			t.Errorf("%s{%s} = %d, want %d", what, k, g, w)
		}
	}
}

// spansNamed returns the ended spans called name.
func spansNamed(r *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// spanAttrs returns the attributes of s by key.
func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// carried is a string that spans or metrics carry, and where.
type carried struct{ where, value string }

// everything returns every string that spans and metrics carry, with where it is: names,
// attribute values, events, status descriptions, the resource.
func everything(spans []sdktrace.ReadOnlySpan, rm metricdata.ResourceMetrics) []carried {
	var out []carried
	add := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			out = append(out, carried{where + " attribute " + string(kv.Key), kv.Value.String()})
		}
	}
	for _, s := range spans {
		where := "span " + s.Name()
		out = append(out, carried{where + " name", s.Name()}, carried{where + " status", s.Status().Description})
		add(where, s.Attributes())
		add(where+" resource", s.Resource().Attributes())
		for _, ev := range s.Events() {
			out = append(out, carried{where + " event", ev.Name})
			add(where+" event "+ev.Name, ev.Attributes)
		}
	}
	add("resource", rm.Resource.Attributes())
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			where := "metric " + m.Name
			out = append(out, carried{where + " name", m.Name}, carried{where + " description", m.Description})
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(where, p.Attributes.ToSlice())
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					add(where, p.Attributes.ToSlice())
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(where, p.Attributes.ToSlice())
					for _, ex := range p.Exemplars {
						add(where+" exemplar", ex.FilteredAttributes)
					}
				}
			default:
				out = append(out, carried{where + " unexpected data", fmt.Sprintf("%T", m.Data)})
			}
		}
	}
	return out
}

// noSecrets fails the test if anything carried contains one of secrets, saying where
// without repeating the secret.
func noSecrets(t *testing.T, all []carried, secrets ...string) {
	t.Helper()
	for _, c := range all {
		for i, s := range secrets {
			if s != "" && strings.Contains(c.value, s) {
				t.Errorf("%s carries secret #%d", c.where, i)
			}
		}
	}
}

// parentOf returns the span ID of s's parent.
func parentOf(s sdktrace.ReadOnlySpan) trace.SpanID { return s.Parent().SpanID() }

// memStore is an in-memory core.IdentityStore.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStore() *memStore { return &memStore{m: make(map[string][]byte)} }

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key], nil
}

func (s *memStore) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = value
	return nil
}
