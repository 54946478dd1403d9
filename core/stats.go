package core

import "time"

// Stats is a snapshot of a Verifier's state, for health checks and metrics.
type Stats struct {
	CachedTokens     int       // tokens in the verified-token cache
	CachedIdentities int       // get-identity answers in the identity cache
	KeyIDs           []string  // kids of the current key set, sorted; empty until keys load
	KeysLoadedAt     time.Time // when the current key set was fetched; zero until then
	KeyError         error     // why the latest key fetch failed; nil after a success
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
	if set := v.keys.set.Load(); set != nil {
		st.KeyIDs = kids(*set)
	}
	return st
}
