package core

import (
	"sync"
	"time"
)

// tokenCache remembers verified tokens, keyed by the whole token string, so that a token seen
// again skips the RSA check. Lookups take only a read lock and allocate nothing. Only tokens
// that verified are stored, so an attacker cannot fill it with forgeries.
type tokenCache struct {
	mu sync.RWMutex
	m  boundedMap[cacheEntry]
}

type cacheEntry struct {
	caller *Caller     // the claims, and the cache's own copy of the token
	key    *signingKey // the key that signed the token; withdrawn ⇒ the entry is void
}

func newTokenCache(max int, leeway time.Duration) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{m: newBoundedMap(max, func(e cacheEntry, now time.Time) bool {
		return !now.Before(e.caller.Claims.ExpiresAt.Add(leeway)) || e.key.withdrawn.Load()
	})}
}

func (c *tokenCache) get(token string) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.m.entries[token]
	c.mu.RUnlock()
	return e, ok
}

// put stores e under its caller's token, which must be the caller's own copy.
func (c *tokenCache) put(e cacheEntry, now time.Time) {
	c.mu.Lock()
	c.m.set(e.caller.token, e, now)
	c.mu.Unlock()
}

func (c *tokenCache) remove(token string) {
	c.mu.Lock()
	delete(c.m.entries, token)
	c.mu.Unlock()
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m.entries)
}
