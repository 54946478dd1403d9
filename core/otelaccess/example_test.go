package otelaccess_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/core/otelaccess"
)

// A server that exposes its cfaccess metrics to Prometheus: the OpenTelemetry SDK with its
// Prometheus exporter, served on a listener of its own.
func Example_prometheus() {
	team := accesstest.NewServer() // a fake team domain; in production, core.ConfigFromEnv()
	defer team.Close()

	// The SDK and its exporter, which registers with a Prometheus registry.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		fmt.Println(err)
		return
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	t, err := otelaccess.New(otelaccess.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := team.Config()
	cfg.HTTPClient = &http.Client{Transport: t.Transport(nil)}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	reg, err := t.Watch(v)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Unregister()

	// Any adapter takes t.Observe the same way: chiaccess.Middleware(v,
	// chiaccess.WithObserver(t.Observe)), ginaccess.Middleware(v, ginaccess.WithObserver(t.Observe))…
	guard, err := adapter.NewGuard(v, adapter.WithObserver(t.Observe))
	if err != nil {
		fmt.Println(err)
		return
	}
	app := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	guard.Check(context.Background(), adapter.HTTPRequest(app)) // no token: 401

	// GET /metrics, on a listener of its own in a real server (METRICS_ADDR).
	metrics := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer metrics.Close()
	resp, err := http.Get(metrics.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "cfaccess_decisions_total{") {
			series, _, _ := strings.Cut(line, ",otel_scope_name")
			_, value, _ := strings.Cut(line, "} ")
			fmt.Printf("%s} %s", series, value)
		}
	}
	// Output:
	// cfaccess_decisions_total{cfaccess_code="missing_token",cfaccess_outcome="denied",cfaccess_reason=""} 1
}

// Observe counts and times each decision. To log the decisions too, call both.
func ExampleTelemetry_Observe() {
	reader := sdkmetric.NewManualReader()
	t, err := otelaccess.New(otelaccess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		fmt.Println(err)
		return
	}
	logEvent := core.LogEvents(slog.New(slog.DiscardHandler)) // slog.Default() in a real server
	observe := func(e core.Event) {
		logEvent(e)
		t.Observe(e)
	}
	// chiaccess.Middleware(v, chiaccess.WithObserver(observe)) calls it for every decision;
	// here, two made by hand.

	observe(core.Event{Outcome: core.OutcomeDenied, Code: core.CodeInvalidToken, Reason: core.ReasonSignature, Latency: 40 * time.Microsecond})
	observe(core.Event{Outcome: core.OutcomeAllowed, Latency: time.Microsecond})

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "cfaccess.decisions" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := p.Attributes.Value(otelaccess.KeyOutcome)
				reason, _ := p.Attributes.Value(otelaccess.KeyReason)
				lines = append(lines, fmt.Sprintf("%s %q: %d", outcome.AsString(), reason.AsString(), p.Value))
			}
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// allowed "": 1
	// denied "signature": 1
}

// Transport traces the verifier's calls to the team domain: its key fetches, and the
// get-identity lookups that a group policy needs.
func ExampleTelemetry_Transport() {
	team := accesstest.NewServer()
	defer team.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t, err := otelaccess.New(otelaccess.WithTracerProvider(tp))
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := team.Config()
	cfg.HTTPClient = &http.Client{Transport: t.Transport(nil)}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	caller, err := v.Authenticate(context.Background(), team.User("ann@example.com", "admins"), "app.example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, err := core.Groups("admins").Allow(context.Background(), caller)
	fmt.Println("admin:", ok, err)
	for _, s := range spans.Ended() {
		fmt.Println(s.Name())
	}
	// Output:
	// admin: true <nil>
	// GET /cdn-cgi/access/certs
	// GET /cdn-cgi/access/get-identity
}

// Watch reports a verifier's statistics, such as its token cache's hits and misses.
func ExampleTelemetry_Watch() {
	team := accesstest.NewServer()
	defer team.Close()
	reader := sdkmetric.NewManualReader()
	t, err := otelaccess.New(otelaccess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	reg, err := t.Watch(v)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Unregister()

	tok := team.User("ann@example.com")
	for range 3 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			fmt.Println(err)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "cfaccess.cache.lookups" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if cache, _ := p.Attributes.Value(otelaccess.KeyCache); cache.AsString() == "token" {
					result, _ := p.Attributes.Value(otelaccess.KeyResult)
					lines = append(lines, fmt.Sprintf("token cache %s: %d", result.AsString(), p.Value))
				}
			}
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// token cache hit: 2
	// token cache miss: 1
}
