package otelaccess

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cfaccess/cfaccess/core"
)

// ScopeName is the instrumentation scope of every meter and tracer this package uses: the
// otel_scope_name label of its metrics in Prometheus.
const ScopeName = "github.com/cfaccess/cfaccess/core/otelaccess"

// Attribute keys. Their values come from closed sets, never from request data.
const (
	KeyOutcome     = attribute.Key("cfaccess.outcome")      // core.Outcome of a decision
	KeyCode        = attribute.Key("cfaccess.code")         // core.Code of a refusal; "" when allowed
	KeyReason      = attribute.Key("cfaccess.reason")       // core.Reason of a refusal; "" when allowed or when the code has none
	KeyCache       = attribute.Key("cfaccess.cache")        // "token" or "identity"
	KeyResult      = attribute.Key("cfaccess.result")       // of a cache lookup or an identity-store operation
	KeyOperation   = attribute.Key("cfaccess.operation")    // of an identity-store operation: "read" or "write"
	KeyEndpoint    = attribute.Key("cfaccess.endpoint")     // of a call to the team domain: "certs", "get_identity" or "other"
	KeyStatusClass = attribute.Key("cfaccess.status_class") // of a call to the team domain: "2xx"… "5xx", or "error" with no usable answer
	KeyTokenID     = attribute.Key("cfaccess.token_id")     // core.TokenID of the token; get-identity spans only, with WithTokenID
)

// Other stands for a Code, Reason or Outcome that this package does not know, such as one a
// custom policy made up: such values are never copied into attributes, so that what a
// policy returns cannot grow the number of series.
const Other = "_OTHER"

// decisionBuckets are the bounds, in seconds, of cfaccess.decision.duration: from 1 µs (a
// cached token) to 5 s (a get-identity call that waits for its timeout).
var decisionBuckets = []float64{
	0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// requestBuckets are the bounds, in seconds, of cfaccess.team.request.duration: those
// OpenTelemetry's HTTP semantic conventions give http.client.request.duration.
var requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Telemetry records the decisions of cfaccess middleware (Observe), the state of verifiers
// (Watch) and the calls they make to the team domain (Transport) as OpenTelemetry metrics
// and spans. Build it with New; it is safe for concurrent use.
type Telemetry struct {
	tracer  trace.Tracer
	now     func() time.Time
	tokenID bool

	decisions       metric.Int64Counter
	decisionSeconds metric.Float64Histogram
	requestSeconds  metric.Float64Histogram

	cacheLookups   metric.Int64ObservableCounter
	cacheEvictions metric.Int64ObservableCounter
	cacheEntries   metric.Int64ObservableUpDownCounter
	storeOps       metric.Int64ObservableCounter
	keysUnknown    metric.Int64ObservableCounter
	keysUnavail    metric.Int64ObservableCounter
	keysAge        metric.Float64ObservableGauge

	mu      sync.Mutex
	watched map[*core.Verifier]int // how many times each is watched

	// The attribute sets of the decisions seen so far, by decisionKey, so that Observe
	// builds each once. The keys come from closed sets: the map stays small.
	sets sync.Map
}

// Option configures New.
type Option interface{ apply(*config) error }

type config struct {
	mp      metric.MeterProvider
	tp      trace.TracerProvider
	now     func() time.Time
	tokenID bool
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// unlessNil is an option that sets what set sets, or, when given nil, fails saying what.
func unlessNil(nilGiven bool, what string, set func(*config)) Option {
	return optionFunc(func(c *config) error {
		if nilGiven {
			return fmt.Errorf("%w: otelaccess.%s", core.ErrConfig, what)
		}
		set(c)
		return nil
	})
}

// WithMeterProvider makes mp provide the meter. The default is otel.GetMeterProvider(), the
// global one, which forwards to whatever provider the program sets globally later. A nil mp
// is an error.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return unlessNil(isNil(mp), "WithMeterProvider: nil MeterProvider", func(c *config) { c.mp = mp })
}

// WithTracerProvider makes tp provide the tracer of the Transport's spans. The default is
// otel.GetTracerProvider(), the global one. A nil tp is an error.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return unlessNil(isNil(tp), "WithTracerProvider: nil TracerProvider", func(c *config) { c.tp = tp })
}

// WithTokenID gives each get-identity span the core.TokenID of the token it looks up
// (attribute cfaccess.token_id), the ID that core.LogEvents logs, to match a slow or failed
// lookup with the requests of that token. It is never a metric attribute, whose
// cardinality it would make unbounded, and the token itself is never recorded.
func WithTokenID() Option {
	return optionFunc(func(c *config) error {
		c.tokenID = true
		return nil
	})
}

// WithClock makes now the clock that cfaccess.keys.age is measured by. Give it the
// Config.Now of the verifiers that Watch observes, when that is set: a key set's load time
// is read on that clock. Nil is an error; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return unlessNil(now == nil, "WithClock: nil clock", func(c *config) { c.now = now })
}

// New returns a Telemetry whose instruments come from the global MeterProvider and
// TracerProvider unless options say otherwise. An option that is nil or given nil is an
// error wrapping core.ErrConfig, and so is a meter that refuses an instrument.
//
// A program needs one Telemetry per MeterProvider, whatever the number of verifiers and
// middleware: each Telemetry reports the verifiers it watches under the same instruments,
// so two on one provider would report the same series twice.
func New(opts ...Option) (*Telemetry, error) {
	var c config
	for i, o := range opts {
		if isNil(o) {
			return nil, fmt.Errorf("%w: otelaccess.New: option %d is nil", core.ErrConfig, i)
		}
		if err := o.apply(&c); err != nil {
			return nil, err
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.now == nil {
		c.now = time.Now
	}
	t := &Telemetry{
		tracer:  c.tp.Tracer(ScopeName),
		now:     c.now,
		tokenID: c.tokenID,
		watched: make(map[*core.Verifier]int),
	}
	if err := t.instruments(c.mp.Meter(ScopeName)); err != nil {
		return nil, fmt.Errorf("%w: otelaccess.New: %w", core.ErrConfig, err)
	}
	return t, nil
}

func (t *Telemetry) instruments(m metric.Meter) error {
	var err error
	if t.decisions, err = m.Int64Counter("cfaccess.decisions",
		metric.WithUnit("{decision}"),
		metric.WithDescription("Decisions of cfaccess middleware and route requirements, by outcome, code and reason.")); err != nil {
		return err
	}
	for _, h := range []struct {
		dst               *metric.Float64Histogram
		name, description string
		boundaries        []float64
	}{
		{&t.decisionSeconds, "cfaccess.decision.duration",
			"How long each decision took, identity lookup included.", decisionBuckets},
		{&t.requestSeconds, "cfaccess.team.request.duration",
			"Duration of the calls to the Access team domain (key set and get-identity), until their answer is read.", requestBuckets},
	} {
		if *h.dst, err = m.Float64Histogram(h.name, metric.WithUnit("s"), metric.WithDescription(h.description),
			metric.WithExplicitBucketBoundaries(h.boundaries...)); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		dst                     *metric.Int64ObservableCounter
		name, unit, description string
	}{
		{&t.cacheLookups, "cfaccess.cache.lookups", "{lookup}",
			"Lookups of the verified-token and identity caches, by cache and result (hit or miss)."},
		{&t.cacheEvictions, "cfaccess.cache.evictions", "{entry}",
			"Entries dropped from a full cache to make room for others."},
		{&t.storeOps, "cfaccess.identity_store.operations", "{operation}",
			"Reads and writes of the shared identity store, by operation and result."},
		{&t.keysUnknown, "cfaccess.keys.unknown", "{token}",
			"Tokens whose kid is not in the team's key set, by reason: unknown_key (401) or unknown_key_pending (503, retry)."},
		{&t.keysUnavail, "cfaccess.keys.unavailable", "{request}",
			"Requests answered 503 because the team's key set could not be fetched."},
	} {
		if *c.dst, err = m.Int64ObservableCounter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.description)); err != nil {
			return err
		}
	}
	if t.cacheEntries, err = m.Int64ObservableUpDownCounter("cfaccess.cache.entries",
		metric.WithUnit("{entry}"),
		metric.WithDescription("Entries in the verified-token and identity caches.")); err != nil {
		return err
	}
	if t.keysAge, err = m.Float64ObservableGauge("cfaccess.keys.age",
		metric.WithUnit("s"),
		metric.WithDescription("Time since the current key set was fetched; absent until a key set loads.")); err != nil {
		return err
	}
	_, err = m.RegisterCallback(t.observe,
		t.cacheLookups, t.cacheEvictions, t.cacheEntries, t.storeOps, t.keysUnknown, t.keysUnavail, t.keysAge)
	return err
}

// Observe records the decision e: one cfaccess.decisions and one cfaccess.decision.duration
// measurement. Give it to an adapter's WithObserver:
//
//	ginaccess.Middleware(v, ginaccess.WithObserver(t.Observe))
//
// Only e's Outcome, Code, Reason and Latency are read: never its Subject, TokenID or Policy.
func (t *Telemetry) Observe(e core.Event) {
	k := decisionKey{outcome: known(outcomeSet, e.Outcome), code: known(codeSet, e.Code), reason: known(reasonSet, e.Reason), withReason: true}
	ctx := context.Background()
	t.decisions.Add(ctx, 1, attributeSet(&t.sets, k).add...)
	// The histogram goes without the reason: each of its series costs a series per bucket.
	t.decisionSeconds.Record(ctx, e.Latency.Seconds(), attributeSet(&t.sets, decisionKey{outcome: k.outcome, code: k.code}).record...)
}

// isNil reports whether v is nil or an interface holding a nil pointer (or map, func…),
// whose methods would panic.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return r.IsNil()
	}
	return false
}
