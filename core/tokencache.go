package core

import (
	"strings"
	"sync"
	"time"
)

// tokenCache remembers verified tokens, keyed by the whole token string, so that a token seen
// again skips the RSA check. Lookups take only a read lock and allocate nothing. It never holds
// more than max entries: when full it first drops what has expired (at most once a second),
// then an arbitrary entry. Only tokens that verified are stored, so an attacker cannot fill it
// with forgeries.
type tokenCache struct {
	mu        sync.RWMutex
	entries   map[string]cacheEntry
	max       int
	nextSweep time.Time
}

type cacheEntry struct {
	claims *Claims
	key    *signingKey // the key that signed the token; withdrawn ⇒ the entry is void
}

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{entries: make(map[string]cacheEntry), max: max}
}

func (c *tokenCache) get(token string) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	return e, ok
}

// put stores e under token. now and leeway date the sweep of expired entries.
func (c *tokenCache) put(token string, e cacheEntry, now time.Time, leeway time.Duration) {
	// The caller's string may alias a buffer its framework reuses (fasthttp does): own a copy.
	token = strings.Clone(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.max {
		c.makeRoom(now, leeway)
	}
	c.entries[token] = e
}

func (c *tokenCache) makeRoom(now time.Time, leeway time.Duration) {
	if !now.Before(c.nextSweep) {
		c.nextSweep = now.Add(time.Second)
		for t, e := range c.entries {
			if !now.Before(e.claims.ExpiresAt.Add(leeway)) || e.key.withdrawn.Load() {
				delete(c.entries, t)
			}
		}
	}
	for t := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, t)
	}
}

// remove drops token, whatever it maps to.
func (c *tokenCache) remove(token string) {
	c.mu.Lock()
	delete(c.entries, token)
	c.mu.Unlock()
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
