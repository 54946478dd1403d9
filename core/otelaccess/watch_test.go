package otelaccess_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/core/otelaccess"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func lookup(cache, result string) string {
	return "cfaccess.cache=" + cache + ",cfaccess.result=" + result
}

func storeOp(op, result string) string {
	return "cfaccess.operation=" + op + ",cfaccess.result=" + result
}

// noStoreOps are the identity-store points of a verifier without a store.
var noStoreOps = map[string]int64{
	storeOp("read", "hit"): 0, storeOp("read", "miss"): 0, storeOp("read", "error"): 0,
	storeOp("read", "rejected"): 0, storeOp("write", "ok"): 0, storeOp("write", "error"): 0,
	"cfaccess.result=skipped": 0,
}

// keysAge returns the value of cfaccess.keys.age, and whether it was recorded.
func keysAge(t *testing.T, rm metricdata.ResourceMetrics) (float64, bool) {
	t.Helper()
	m, ok := find(rm, "cfaccess.keys.age")
	if !ok {
		return 0, false
	}
	g, ok := m.Data.(metricdata.Gauge[float64])
	if !ok || len(g.DataPoints) != 1 || g.DataPoints[0].Attributes.Len() != 0 {
		t.Fatalf("cfaccess.keys.age: %+v, want one point without attributes", m.Data)
	}
	if m.Unit != "s" {
		t.Errorf("cfaccess.keys.age unit %q, want s", m.Unit)
	}
	return g.DataPoints[0].Value, true
}

// The Stats-based instruments report what the requests did to the caches and the key set,
// on the verifier's clock.
func TestWatch(t *testing.T) {
	clk := testkit.NewClock()
	e := newEnv(t, func(_ *accesstest.Server, cfg *core.Config) {
		cfg.Now = clk.Now
		cfg.Keys.FetchWait = 30 * time.Second // the unknown kid's refresh, on a busy machine
	}, otelaccess.WithClock(clk.Now))
	reg, err := e.tel.Watch(e.v)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	again, err := e.tel.Watch(e.v) // counted once all the same
	if err != nil {
		t.Fatalf("Watch again: %v", err)
	}
	policy := e.guard(t, adapter.WithPolicy(core.Groups("admins")))
	member := e.srv.User("ann@example.com", "admins")
	for _, r := range []struct {
		token  string
		status int
	}{
		{member, http.StatusOK},
		{member, http.StatusOK},
		{e.srv.User("bob@example.com", "staff"), http.StatusForbidden},
		// Signed under a kid nobody publishes, and older than the key set: refused.
		{e.srv.Mint(accesstest.Token{Email: "cy@example.com", KeyID: "withdrawn", IssuedAt: clk.Now().Add(-2 * time.Hour), ExpiresAt: clk.Now().Add(time.Hour)}), http.StatusUnauthorized},
	} {
		if got := get(t, policy.URL, r.token); got != r.status {
			t.Fatalf("status %d, want %d", got, r.status)
		}
	}
	clk.Advance(90 * time.Second)

	rm := collect(t, e.reader)
	st := e.v.Stats()
	equalCounts(t, "cfaccess.cache.lookups", intSum(t, rm, "cfaccess.cache.lookups"), map[string]int64{
		lookup("token", "hit"): 1, lookup("token", "miss"): 3,
		lookup("identity", "hit"): 1, lookup("identity", "miss"): 2,
	})
	if st.TokenCache.Hits != 1 || st.TokenCache.Misses != 3 || st.IdentityCache.Hits != 1 || st.IdentityCache.Misses != 2 {
		t.Errorf("Stats disagree: token %+v, identity %+v", st.TokenCache, st.IdentityCache)
	}
	equalCounts(t, "cfaccess.cache.evictions", intSum(t, rm, "cfaccess.cache.evictions"), map[string]int64{
		"cfaccess.cache=token": 0, "cfaccess.cache=identity": 0,
	})
	equalCounts(t, "cfaccess.cache.entries", intSum(t, rm, "cfaccess.cache.entries"), map[string]int64{
		"cfaccess.cache=token": 2, "cfaccess.cache=identity": 2,
	})
	equalCounts(t, "cfaccess.identity_store.operations", intSum(t, rm, "cfaccess.identity_store.operations"), noStoreOps)
	equalCounts(t, "cfaccess.keys.unknown", intSum(t, rm, "cfaccess.keys.unknown"), map[string]int64{
		"cfaccess.reason=unknown_key": 1, "cfaccess.reason=unknown_key_pending": 0,
	})
	equalCounts(t, "cfaccess.keys.unavailable", intSum(t, rm, "cfaccess.keys.unavailable"), map[string]int64{"": 0})
	if age, ok := keysAge(t, rm); !ok || age != 90 {
		t.Errorf("cfaccess.keys.age = %v (recorded: %v), want 90", age, ok)
	}
	for _, name := range []string{"cfaccess.cache.lookups", "cfaccess.cache.evictions", "cfaccess.identity_store.operations", "cfaccess.keys.unknown", "cfaccess.keys.unavailable"} {
		m, _ := find(rm, name)
		if s, ok := m.Data.(metricdata.Sum[int64]); !ok || !s.IsMonotonic || s.Temporality != metricdata.CumulativeTemporality {
			t.Errorf("%s is not a monotonic cumulative sum: %+v", name, m.Data)
		}
	}
	if m, _ := find(rm, "cfaccess.cache.entries"); m.Data.(metricdata.Sum[int64]).IsMonotonic {
		t.Error("cfaccess.cache.entries is monotonic, want an up-down counter")
	}

	reg.Unregister()
	if _, ok := find(collect(t, e.reader), "cfaccess.keys.age"); !ok {
		t.Error("reported nothing after one of two Watches of the verifier ended")
	}
	again.Unregister()
	again.Unregister() // a second time does nothing
	rm = collect(t, e.reader)
	if age, ok := keysAge(t, rm); ok {
		t.Errorf("cfaccess.keys.age = %v after Unregister", age)
	}
	if m, ok := find(rm, "cfaccess.cache.lookups"); ok && len(m.Data.(metricdata.Sum[int64]).DataPoints) > 0 {
		t.Errorf("cfaccess.cache.lookups after Unregister: %+v", m.Data)
	}
}

// Two instances share an identity store: the store's reads and writes are counted, and the
// counters of the verifiers a Telemetry watches add up.
func TestWatchIdentityStore(t *testing.T) {
	store := newMemStore()
	e := newEnv(t, func(_ *accesstest.Server, cfg *core.Config) {
		cfg.Identities.Shared = &core.SharedStore{Store: store, Key: bytes.Repeat([]byte{7}, core.MinStoreKeySize), Timeout: 10 * time.Second}
	})
	other, err := core.NewVerifier(e.cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if _, err := e.tel.Watch(e.v); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	otherReg, err := e.tel.Watch(other)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	member := e.srv.User("ann@example.com", "admins")
	admins := adapter.WithPolicy(core.Groups("admins"))
	if got := get(t, e.guard(t, admins).URL, member); got != http.StatusOK {
		t.Fatalf("first instance: status %d", got)
	}
	// The write does not hold the request: wait for it.
	testkit.Eventually(t, "the identity to be written to the store", func() bool { return e.v.Stats().IdentityStore.Writes == 1 })
	if got := get(t, e.guardOver(t, other, admins).URL, member); got != http.StatusOK {
		t.Fatalf("second instance: status %d", got)
	}
	if n := e.srv.IdentityRequests(); n != 1 {
		t.Fatalf("%d get-identity calls, want 1: the second instance should have read the store", n)
	}

	rm := collect(t, e.reader)
	want := map[string]int64{}
	for k, v := range noStoreOps {
		want[k] = v
	}
	want[storeOp("read", "miss")], want[storeOp("write", "ok")], want[storeOp("read", "hit")] = 1, 1, 1
	equalCounts(t, "cfaccess.identity_store.operations", intSum(t, rm, "cfaccess.identity_store.operations"), want)
	equalCounts(t, "cfaccess.cache.lookups", intSum(t, rm, "cfaccess.cache.lookups"), map[string]int64{
		lookup("token", "hit"): 0, lookup("token", "miss"): 2,
		lookup("identity", "hit"): 0, lookup("identity", "miss"): 2,
	})

	otherReg.Unregister()
	want[storeOp("read", "hit")] = 0
	equalCounts(t, "cfaccess.identity_store.operations", intSum(t, collect(t, e.reader), "cfaccess.identity_store.operations"), want)
}

// Mistakes are errors wrapping core.ErrConfig, never panics.
func TestConfigurationErrors(t *testing.T) {
	var nilOption otelaccess.Option
	for name, opts := range map[string][]otelaccess.Option{
		"nil option":              {nilOption},
		"nil MeterProvider":       {otelaccess.WithMeterProvider(nil)},
		"typed nil MeterProvider": {otelaccess.WithMeterProvider((*sdkmetric.MeterProvider)(nil))},
		"nil TracerProvider":      {otelaccess.WithTracerProvider(nil)},
		"nil clock":               {otelaccess.WithClock(nil)},
	} {
		tel, err := otelaccess.New(opts...)
		if !errors.Is(err, core.ErrConfig) || tel != nil {
			t.Errorf("%s: New = %v, %v; want nil and an error wrapping core.ErrConfig", name, tel, err)
		}
	}
	tel, err := otelaccess.New()
	if err != nil {
		t.Fatalf("New with the global providers: %v", err)
	}
	if reg, err := tel.Watch(nil); !errors.Is(err, core.ErrConfig) || reg != nil {
		t.Errorf("Watch(nil) = %v, %v; want nil and an error wrapping core.ErrConfig", reg, err)
	}
	var reg *otelaccess.Registration
	reg.Unregister() // does nothing
}
