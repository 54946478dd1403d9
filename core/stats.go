package core

import (
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"
)

// Stats is a snapshot of a Verifier's state, for health checks and metrics.
type Stats struct {
	CachedTokens     int        // tokens in the verified-token cache (one that expired may count until the cache's upkeep drops it, within a second or so)
	CachedIdentities int        // get-identity answers (and remembered failures) in the identity cache
	TokenCache       CacheStats // the verified-token cache's counters since NewVerifier
	IdentityCache    CacheStats // the identity cache's counters since NewVerifier
	IdentityStore    StoreStats // Config.Identities.Shared's counters since NewVerifier
	KeyIDs           []string   // kids of the current key set, sorted; empty until keys load
	KeysLoadedAt     time.Time  // when the current key set was fetched; zero until then
	KeyError         error      // why the latest key fetch failed; nil after a success

	// UnknownKeys counts tokens refused (401, ReasonUnknownKey) because the key set lacks
	// their kid.
	UnknownKeys uint64
	// UnknownKeysPending counts tokens under a kid the key set lacks that were told to try
	// again (503, ReasonUnknownKeyPending), as they may carry a key published since the last
	// fetch. Anyone can mint these: they are no sign of an outage.
	UnknownKeysPending uint64
	// KeysUnavailable counts requests answered 503 because the key set could not be fetched
	// (ReasonKeysUnavailable): the sign of an outage.
	KeysUnavailable uint64
}

// CacheStats counts the lookups of one cache. The counters only grow; a rate is the
// difference of two snapshots.
type CacheStats struct {
	// Hits are lookups the cache answered: a verified token seen again (its claims, or its
	// expiry), an identity or a remembered failure of get-identity.
	Hits uint64
	// Misses are lookups it could not answer, each followed by a full verification or a
	// get-identity call (shared by the lookups of one token that arrive together).
	Misses uint64
	// Evictions are entries dropped to make room for others; entries that expire or whose
	// signing key is withdrawn are not counted.
	Evictions uint64
}

// HitRatio returns Hits / (Hits + Misses), or 0 before any lookup.
func (s CacheStats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns a snapshot of v's state.
func (v *Verifier) Stats() Stats {
	var st Stats
	if v.tokens != nil {
		st.CachedTokens, st.TokenCache = v.tokens.len(), v.tokens.stats.snapshot()
	}
	st.CachedIdentities, st.IdentityCache = v.identities.len(), v.identities.stats.snapshot()
	if v.shared != nil {
		st.IdentityStore = v.shared.stats.snapshot()
	}
	ks := v.keys.Stats()
	st.KeyIDs, st.KeysLoadedAt, st.KeyError = ks.KIDs, ks.LoadedAt, ks.Err
	st.UnknownKeys, st.UnknownKeysPending, st.KeysUnavailable = ks.Unknown, ks.Pending, ks.Unavailable
	return st
}

// cacheCounters count a cache's hits, misses and evictions. They are otter's stats.Counter,
// whose hit and miss counts are striped: counted in one shared atomic, hits from several cores
// at once contend for its cache line, and cached verifications from 2 cores ran slower than
// from one.
type cacheCounters struct{ *stats.Counter }

func newCacheCounters() *cacheCounters { return &cacheCounters{stats.NewCounter()} }

// countEvictions returns an otter deletion hook, which runs for every deletion, that counts
// those made to make room.
func countEvictions[V any](c *cacheCounters) func(otter.DeletionEvent[uint64, V]) {
	return func(e otter.DeletionEvent[uint64, V]) {
		if e.Cause == otter.CauseOverflow {
			c.RecordEviction(1)
		}
	}
}

func (c *cacheCounters) snapshot() CacheStats {
	s := c.Snapshot()
	return CacheStats{Hits: s.Hits, Misses: s.Misses, Evictions: s.Evictions}
}
