package forwardauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cfaccess/cfaccess/core/otelaccess"
)

// EnvMetrics is the default of -metrics: where to serve Prometheus text at GET /metrics.
const EnvMetrics = "METRICS_ADDR"

// metrics serves cfaccess's OpenTelemetry metrics (core/otelaccess) as Prometheus text at GET
// /metrics on addr, a listener of its own: the proxy's port is for /auth alone. It returns
// the Telemetry that records them and what stops them.
func metrics(addr string, log *slog.Logger) (*otelaccess.Telemetry, func(context.Context) error, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t, err := otelaccess.New(otelaccess.WithMeterProvider(mp))
	if err != nil {
		return nil, nil, errors.Join(err, mp.Shutdown(context.Background()))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("-metrics %s: %w", addr, err), mp.Shutdown(context.Background()))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with Shutdown
	log.Info("cfaccess forward-auth: metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return t, func(ctx context.Context) error { return errors.Join(srv.Shutdown(ctx), mp.Shutdown(ctx)) }, nil
}
