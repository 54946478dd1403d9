package core

import (
	"strings"
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
	claims *Claims
	key    *signingKey // the key that signed the token; withdrawn ⇒ the entry is void
	token  string      // the cache's own copy of the token, safe to keep past the request
}

func newTokenCache(max int, leeway time.Duration) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{m: newBoundedMap(max, func(e cacheEntry, now time.Time) bool {
		return !now.Before(e.claims.ExpiresAt.Add(leeway)) || e.key.withdrawn.Load()
	})}
}

func (c *tokenCache) get(token string) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.m.entries[token]
	c.mu.RUnlock()
	return e, ok
}

// put stores e under token and returns the cache's own copy of the token.
func (c *tokenCache) put(token string, e cacheEntry, now time.Time) string {
	token = strings.Clone(token)
	e.token = token
	c.mu.Lock()
	c.m.set(token, e, now)
	c.mu.Unlock()
	return token
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
