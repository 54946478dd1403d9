package core

import "time"

// SetStoreOpenFor sets how long a store's breaker stays open before an operation probes the
// store again, for the verifiers made until restore is called: each breaker reads it once,
// when NewVerifier builds it. restore must run after every verifier made meanwhile has
// stopped using its store.
func SetStoreOpenFor(d time.Duration) (restore func()) {
	old := storeOpenFor
	storeOpenFor = d
	return func() { storeOpenFor = old }
}
