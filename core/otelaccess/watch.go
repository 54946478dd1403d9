package otelaccess

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cfaccess/cfaccess/core"
)

// Registration is one Watch of a Verifier; Unregister ends it.
type Registration struct {
	t    *Telemetry
	v    *core.Verifier
	once sync.Once
}

// Watch makes t report v.Stats() at every collection of its MeterProvider's readers:
// cache lookups and evictions, cache sizes, identity-store operations, tokens under unknown
// keys, requests refused for want of keys, and the age of the key set (see the package
// documentation). A nil v is an error wrapping core.ErrConfig.
//
// Several verifiers (one per Access application) may be watched by one Telemetry: their
// counters are added up and the key-set age is that of the oldest key set. Watching one
// verifier twice counts it once. A watched verifier is kept alive until Unregister.
func (t *Telemetry) Watch(v *core.Verifier) (*Registration, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: otelaccess.Watch: nil Verifier", core.ErrConfig)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watched[v]++
	return &Registration{t: t, v: v}, nil
}

// Unregister stops reporting the verifier; its counters leave the sums. Calling it again
// does nothing.
func (r *Registration) Unregister() {
	if r == nil || r.t == nil {
		return
	}
	r.once.Do(func() {
		r.t.mu.Lock()
		defer r.t.mu.Unlock()
		if r.t.watched[r.v]--; r.t.watched[r.v] <= 0 {
			delete(r.t.watched, r.v)
		}
	})
}

// The attribute sets of the Stats-based instruments, made once.
var (
	tokenHit        = attrs(KeyCache.String("token"), KeyResult.String("hit"))
	tokenMiss       = attrs(KeyCache.String("token"), KeyResult.String("miss"))
	identityHit     = attrs(KeyCache.String("identity"), KeyResult.String("hit"))
	identityMiss    = attrs(KeyCache.String("identity"), KeyResult.String("miss"))
	tokenCache      = attrs(KeyCache.String("token"))
	identityCache   = attrs(KeyCache.String("identity"))
	storeHit        = attrs(KeyOperation.String("read"), KeyResult.String("hit"))
	storeMiss       = attrs(KeyOperation.String("read"), KeyResult.String("miss"))
	storeReadError  = attrs(KeyOperation.String("read"), KeyResult.String("error"))
	storeRejected   = attrs(KeyOperation.String("read"), KeyResult.String("rejected"))
	storeWrite      = attrs(KeyOperation.String("write"), KeyResult.String("ok"))
	storeWriteError = attrs(KeyOperation.String("write"), KeyResult.String("error"))
	storeSkipped    = attrs(KeyResult.String("skipped")) // reads and writes
	unknownKey      = attrs(KeyReason.String(string(core.ReasonUnknownKey)))
	unknownPending  = attrs(KeyReason.String(string(core.ReasonUnknownKeyPending)))
)

func attrs(kvs ...attribute.KeyValue) metric.ObserveOption {
	return metric.WithAttributeSet(attribute.NewSet(kvs...))
}

// observe is the callback of the Stats-based instruments.
func (t *Telemetry) observe(_ context.Context, o metric.Observer) error {
	t.mu.Lock()
	vs := make([]*core.Verifier, 0, len(t.watched))
	for v := range t.watched {
		vs = append(vs, v)
	}
	t.mu.Unlock()
	if len(vs) == 0 {
		return nil
	}
	var sum core.Stats
	var oldest time.Time
	for _, v := range vs {
		st := v.Stats()
		add(&sum.TokenCache, st.TokenCache)
		add(&sum.IdentityCache, st.IdentityCache)
		sum.CachedTokens += st.CachedTokens
		sum.CachedIdentities += st.CachedIdentities
		s, a := &sum.IdentityStore, st.IdentityStore
		s.Hits += a.Hits
		s.Misses += a.Misses
		s.Errors += a.Errors
		s.Rejected += a.Rejected
		s.Writes += a.Writes
		s.WriteErrors += a.WriteErrors
		s.Skipped += a.Skipped
		sum.UnknownKeys += st.UnknownKeys
		sum.UnknownKeysPending += st.UnknownKeysPending
		sum.KeysUnavailable += st.KeysUnavailable
		if !st.KeysLoadedAt.IsZero() && (oldest.IsZero() || st.KeysLoadedAt.Before(oldest)) {
			oldest = st.KeysLoadedAt
		}
	}

	o.ObserveInt64(t.cacheLookups, count(sum.TokenCache.Hits), tokenHit)
	o.ObserveInt64(t.cacheLookups, count(sum.TokenCache.Misses), tokenMiss)
	o.ObserveInt64(t.cacheLookups, count(sum.IdentityCache.Hits), identityHit)
	o.ObserveInt64(t.cacheLookups, count(sum.IdentityCache.Misses), identityMiss)
	o.ObserveInt64(t.cacheEvictions, count(sum.TokenCache.Evictions), tokenCache)
	o.ObserveInt64(t.cacheEvictions, count(sum.IdentityCache.Evictions), identityCache)
	o.ObserveInt64(t.cacheEntries, int64(sum.CachedTokens), tokenCache)
	o.ObserveInt64(t.cacheEntries, int64(sum.CachedIdentities), identityCache)

	s := sum.IdentityStore
	o.ObserveInt64(t.storeOps, count(s.Hits), storeHit)
	o.ObserveInt64(t.storeOps, count(s.Misses), storeMiss)
	o.ObserveInt64(t.storeOps, count(s.Errors), storeReadError)
	o.ObserveInt64(t.storeOps, count(s.Rejected), storeRejected)
	o.ObserveInt64(t.storeOps, count(s.Writes), storeWrite)
	o.ObserveInt64(t.storeOps, count(s.WriteErrors), storeWriteError)
	o.ObserveInt64(t.storeOps, count(s.Skipped), storeSkipped)

	o.ObserveInt64(t.keysUnknown, count(sum.UnknownKeys), unknownKey)
	o.ObserveInt64(t.keysUnknown, count(sum.UnknownKeysPending), unknownPending)
	o.ObserveInt64(t.keysUnavail, count(sum.KeysUnavailable))
	if !oldest.IsZero() {
		o.ObserveFloat64(t.keysAge, max(0, t.now().Sub(oldest).Seconds()))
	}
	return nil
}

func add(dst *core.CacheStats, s core.CacheStats) {
	dst.Hits += s.Hits
	dst.Misses += s.Misses
	dst.Evictions += s.Evictions
}

// count converts a counter of Stats to an observation, which cannot exceed MaxInt64.
func count(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}
