package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cfaccess/cfaccess/core/otelaccess"
)

// EnvMetricsAddr is the listen address of GET /metrics; unset or empty, there is none.
const EnvMetricsAddr = "METRICS_ADDR"

// startMetrics reads METRICS_ADDR. Set, it serves the OpenTelemetry SDK's metrics as
// Prometheus text at GET /metrics there, on a listener of its own (never the application's),
// and returns the Telemetry that records them; unset, a Telemetry over OpenTelemetry's global
// providers, which record nothing unless a program sets them.
func (ex *Example) startMetrics() error {
	addr := strings.TrimSpace(os.Getenv(EnvMetricsAddr))
	if addr == "" {
		t, err := otelaccess.New()
		ex.Metrics = t
		return err
	}
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	ex.stops = append(ex.stops, mp.Shutdown)
	if ex.Metrics, err = otelaccess.New(otelaccess.WithMeterProvider(mp)); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvMetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with Shutdown
	ex.stops = append(ex.stops, srv.Shutdown)
	fmt.Fprintf(ex.out, "metrics listening on http://%s/metrics\n", ln.Addr())
	return nil
}

// stop runs the stops, last first.
func (ex *Example) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	for i := len(ex.stops) - 1; i >= 0; i-- {
		errs = append(errs, ex.stops[i](ctx))
	}
	return errors.Join(errs...)
}
