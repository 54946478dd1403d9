package core

import (
	"context"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/cfaccess/cfaccess/internal/clock"
)

// identityLoader looks up the identity of a token that has verified, whose exp is exp. The
// identity cache calls it on a miss, once per token however many requests wait. Besides the
// answer it may return until when the answer may be used (zero: for Identities.TTL), as
// an answer kept elsewhere for a while has less time left.
type identityLoader func(ctx context.Context, token string, exp time.Time) (*Identity, time.Time, error)

// identityReader looks an identity up where it may already be, the store that several
// instances share (sharedIdentities.read), before a flight to get-identity: on the request's
// own goroutine, since a read is as cheap as joining a flight.
type identityReader func(ctx context.Context, token string, exp time.Time) (*Identity, time.Time, bool)

// identityCache remembers get-identity answers per token, for at most the identity TTL and
// never past the token's exp, and makes concurrent lookups for one token share one call. A
// failed lookup is remembered too, for the (shorter) failure TTL, so that an outage costs one
// wait per token rather than one per request.
//
// Entries are keyed like the token cache's and hold the Caller's own token string, so the two
// caches share one copy of a token's bytes.
type identityCache struct {
	cfg     *settings
	clk     *clock.Clock
	read    identityReader // nil without a shared store
	load    identityLoader
	m       *otter.Cache[uint64, *identityEntry] // nil when the cache is off
	flights singleflight.Group
	stats   *cacheCounters
}

// identityEntry is one lookup's outcome: an identity or an error, until a deadline.
type identityEntry struct {
	token string // the Caller's, compared whole on a hit
	id    *Identity
	err   error
	until int64 // UnixNano
}

func newIdentityCache(cfg *settings, clk *clock.Clock, read identityReader, load identityLoader) *identityCache {
	c := &identityCache{cfg: cfg, clk: clk, read: read, load: load, stats: newCacheCounters()}
	if cfg.identityCacheSize > 0 {
		c.m = otter.Must(&otter.Options[uint64, *identityEntry]{
			MaximumSize: cfg.identityCacheSize,
			ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[uint64, *identityEntry]) time.Duration {
				return ttlUntil(e.Value.until, e.SnapshotAtNano)
			}),
			OnAtomicDeletion: countEvictions[*identityEntry](c.stats),
			Clock:            clk,
		})
	}
	return c
}

// get returns the identity of the verified token, which the caller owns, whose exp is exp.
func (c *identityCache) get(ctx context.Context, token string, exp time.Time) (*Identity, error) {
	if e := c.lookup(token); e != nil {
		c.stats.RecordHits(1)
		return e.id, e.err
	}
	c.stats.RecordMisses(1)
	if c.read != nil {
		if id, until, ok := c.read(ctx, token, exp); ok {
			return c.remember(&identityEntry{token: token, id: id}, until, exp).id, nil
		}
	}
	// The call runs on its own goroutine, detached from ctx: a waiter that gives up does not
	// cancel it for the others.
	detached := context.WithoutCancel(ctx)
	done := c.flights.DoChan(token, func() (any, error) {
		// A flight that ended between the lookup above and DoChan has filled the entry.
		if e := c.lookup(token); e != nil {
			return e, nil
		}
		return c.fetch(detached, token, exp), nil
	})
	select {
	case r := <-done:
		e := r.Val.(*identityEntry)
		return e.id, e.err
	case <-ctx.Done():
		return nil, c.cfg.unavailable(ReasonIdentityUnavailable, "gave up waiting for the caller's identity", ctx.Err())
	}
}

// lookup returns the live entry of token, if any.
func (c *identityCache) lookup(token string) *identityEntry {
	if c.m == nil || len(token) < minCachedLen {
		return nil
	}
	e, ok := c.m.GetIfPresent(cacheKey(token))
	if !ok || e.token != token || !c.clk.Before(e.until) {
		return nil
	}
	return e
}

// fetch makes the call and remembers its outcome, before the flight ends, so that a request
// arriving later finds either the flight or the entry.
func (c *identityCache) fetch(ctx context.Context, token string, exp time.Time) *identityEntry {
	e := &identityEntry{token: token}
	var until time.Time
	e.id, until, e.err = c.load(ctx, token, exp)
	return c.remember(e, until, exp)
}

// remember keeps e, an outcome for a token whose exp is exp, for its TTL, never past exp nor
// past until when that is set.
func (c *identityCache) remember(e *identityEntry, until, exp time.Time) *identityEntry {
	ttl := c.cfg.identityTTL
	if e.err != nil {
		ttl = c.cfg.identityFailureTTL
	}
	now := c.cfg.now()
	e.until = min(now.Add(ttl).UnixNano(), exp.UnixNano())
	if e.err == nil && !until.IsZero() {
		e.until = min(e.until, until.UnixNano())
	}
	if c.m != nil && len(e.token) >= minCachedLen && ttl > 0 && now.UnixNano() < e.until {
		c.m.Set(cacheKey(e.token), e)
	}
	return e
}

// len counts the live entries, after dropping the expired ones otter has not yet reached.
func (c *identityCache) len() int {
	if c.m == nil {
		return 0
	}
	c.m.CleanUp()
	return c.m.EstimatedSize()
}
