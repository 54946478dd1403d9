package otelaccess_test

import (
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/otelaccess"
)

// BenchmarkObserve is what a decision's metrics cost the request that made it: OpenTelemetry's
// global providers, which record nothing until a program sets them, and the SDK recording
// for a reader (as the Prometheus exporter does).
//
//	go test ./core/otelaccess -run '^$' -bench BenchmarkObserve -benchmem
func BenchmarkObserve(b *testing.B) {
	e := core.Event{Outcome: core.OutcomeAllowed, Source: core.SourceHeader, Latency: 3 * time.Microsecond, Subject: "ann@example.com"}
	for _, bc := range []struct {
		name string
		opts []otelaccess.Option
	}{
		{"global_noop", nil},
		{"sdk", []otelaccess.Option{otelaccess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tel, err := otelaccess.New(bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				tel.Observe(e)
			}
		})
	}
}
