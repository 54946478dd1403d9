package core

import "time"

// Stats is a snapshot of a Verifier's state, for health checks and metrics.
type Stats struct {
	CachedTokens     int       // tokens in the verified-token cache
	CachedIdentities int       // get-identity answers in the identity cache
	KeyIDs           []string  // kids of the current key set, sorted; empty until keys load
	KeysLoadedAt     time.Time // when the current key set was fetched; zero until then
	KeyError         error     // why the latest key fetch failed; nil after a success

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

// Stats returns a snapshot of v's state.
func (v *Verifier) Stats() Stats {
	var st Stats
	if v.cache != nil {
		st.CachedTokens = v.cache.len()
	}
	st.CachedIdentities = v.identities.len()
	v.keys.mu.Lock()
	st.KeysLoadedAt, st.KeyError = v.keys.loadedAt, v.keys.lastErr
	v.keys.mu.Unlock()
	st.UnknownKeys, st.UnknownKeysPending = v.keys.unknownKeys.Load(), v.keys.unknownKeysPending.Load()
	st.KeysUnavailable = v.keys.keysUnavailable.Load()
	if set := v.keys.set.Load(); set != nil {
		st.KeyIDs = kids(*set)
	}
	return st
}
