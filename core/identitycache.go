package core

import (
	"context"
	"strings"
	"sync"
	"time"
)

// identityCache remembers get-identity answers per token, for at most the identity TTL and
// never past the token's exp, and makes concurrent lookups for one token share one call.
// Failures are not remembered: the next request asks again.
type identityCache struct {
	cfg *settings

	mu      sync.RWMutex
	m       boundedMap[identityEntry]
	flights map[string]*identityFetch
}

type identityEntry struct {
	id    *Identity
	until time.Time
}

type identityFetch struct {
	done chan struct{}
	id   *Identity
	err  error
}

func newIdentityCache(cfg *settings) *identityCache {
	return &identityCache{
		cfg:     cfg,
		m:       newBoundedMap(cfg.identityCacheSize, func(e identityEntry, now time.Time) bool { return !now.Before(e.until) }),
		flights: make(map[string]*identityFetch),
	}
}

func (c *identityCache) get(ctx context.Context, token string, exp time.Time) (*Identity, bool, error) {
	now := c.cfg.now()
	c.mu.RLock()
	e, ok := c.m.entries[token]
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.id, true, nil
	}

	c.mu.Lock()
	// A fetch may have ended, and filled the entry, since the read lock was let go.
	if e, ok := c.m.entries[token]; ok && now.Before(e.until) {
		c.mu.Unlock()
		return e.id, true, nil
	}
	f := c.flights[token]
	if f == nil {
		f = &identityFetch{done: make(chan struct{})}
		token = strings.Clone(token) // kept beyond the request: see boundedMap.set
		c.flights[token] = f
		// The call runs on its own: a waiter that gives up does not cancel it for the others.
		go c.fetch(context.WithoutCancel(ctx), token, exp, f)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.id, false, f.err
	case <-ctx.Done():
		return nil, false, unavailable(ReasonIdentityUnavailable, "gave up waiting for the caller's identity", ctx.Err())
	}
}

func (c *identityCache) fetch(ctx context.Context, token string, exp time.Time, f *identityFetch) {
	f.id, f.err = c.cfg.fetchIdentity(ctx, token)
	now := c.cfg.now()
	until := now.Add(c.cfg.identityTTL)
	if exp.Before(until) {
		until = exp
	}

	c.mu.Lock()
	delete(c.flights, token)
	if f.err == nil && c.cfg.identityCacheSize > 0 && now.Before(until) {
		c.m.set(token, identityEntry{id: f.id, until: until}, now)
	} else {
		delete(c.m.entries, token) // whatever was there has run out
	}
	c.mu.Unlock()
	close(f.done)
}

func (c *identityCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m.entries)
}
