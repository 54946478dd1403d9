package core

import (
	"math"
	"math/bits"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cfaccess/cfaccess/internal/clock"
	"github.com/cfaccess/cfaccess/internal/keyset"
)

// tokenCache remembers verified tokens, so that a token seen again skips the RSA check. Only
// tokens that verified are stored, so an attacker cannot fill it with forgeries.
//
// It is an otter cache: W-TinyLFU admission and eviction (which keeps a browser session's
// token over a stream of one-off tokens better than LRU does), per-entry expiry on a timer
// wheel (no sweep of the whole cache), and reads that take no lock. A hit costs one hash
// lookup, one comparison of the token and the checks below; it allocates nothing.
type tokenCache struct {
	m     *otter.Cache[uint64, *cachedToken]
	clk   *clock.Clock
	stats *cacheCounters
}

// cachedToken is one verified token: its Caller (which owns the token's only copy, shared
// with the identity cache) and what a hit must check again.
type cachedToken struct {
	caller    Caller
	key       *keyset.Key // the key that signed it; withdrawn ⇒ the entry is void
	deadline  int64       // exp + leeway, UnixNano: refused from then on
	notBefore int64       // nbf - leeway, UnixNano; MinInt64 without nbf
}

func newTokenCache(size int, clk *clock.Clock) *tokenCache {
	if size <= 0 {
		return nil
	}
	c := &tokenCache{clk: clk, stats: newCacheCounters()}
	c.m = otter.Must(&otter.Options[uint64, *cachedToken]{
		MaximumSize: size,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[uint64, *cachedToken]) time.Duration {
			return ttlUntil(e.Value.deadline, e.SnapshotAtNano)
		}),
		OnAtomicDeletion: countEvictions[*cachedToken](c.stats),
		Clock:            clk,
	})
	return c
}

// ttlUntil is the time from now to deadline (both UnixNano) for otter, which keeps an entry
// forever when given none: a deadline already passed gets a nanosecond.
func ttlUntil(deadline, now int64) time.Duration {
	return time.Duration(max(deadline-now, 1))
}

// minCachedLen is shorter than any token that can verify: its RS256 signature alone is 342
// characters or more. The cache key reads the last minCachedLen bytes.
const minCachedLen = 32

// cacheKey is the key of a token in both caches: the last 32 characters of its signature,
// folded into 64 bits, so that a lookup hashes 8 bytes instead of the whole token (~1 KB). A
// signature is the most random part of a token, and one that no one but the team can choose
// for a token that verifies. Two tokens with one key are told apart by comparing them whole:
// a hit must match the whole token, never just its key.
func cacheKey(token string) uint64 {
	s := token[len(token)-minCachedLen:]
	return le64(s) ^ bits.RotateLeft64(le64(s[8:]), 16) ^
		bits.RotateLeft64(le64(s[16:]), 32) ^ bits.RotateLeft64(le64(s[24:]), 48)
}

// le64 reads the first 8 bytes of s as a little-endian number (the compiler makes one load
// of it).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// get returns the entry of token, if cached (it may have expired: the caller checks).
func (c *tokenCache) get(token string) *cachedToken {
	if len(token) < minCachedLen {
		return nil
	}
	e, ok := c.m.GetIfPresent(cacheKey(token))
	if !ok || e.caller.token != token {
		return nil
	}
	return e
}

// put stores the claims of token, which key signed, and returns the Caller it stored for
// them, shared by every request of the token while it is cached. The token must be the
// cache's own copy (see Verifier.newCaller).
func (c *tokenCache) put(v *Verifier, claims *Claims, token string, key *keyset.Key) *Caller {
	e := &cachedToken{
		caller:    Caller{Claims: claims, v: v, token: token, tokenID: TokenID(token)},
		key:       key,
		deadline:  claims.ExpiresAt.Add(v.cfg.leeway).UnixNano(),
		notBefore: math.MinInt64,
	}
	if !claims.NotBefore.IsZero() {
		e.notBefore = claims.NotBefore.Add(-v.cfg.leeway).UnixNano()
	}
	c.m.Set(cacheKey(token), e)
	return &e.caller
}

// remove drops e, unless a newer entry has taken its key.
func (c *tokenCache) remove(e *cachedToken) {
	c.m.ComputeIfPresent(cacheKey(e.caller.token), func(old *cachedToken) (*cachedToken, otter.ComputeOp) {
		if old != e {
			return old, otter.CancelOp
		}
		return nil, otter.InvalidateOp
	})
}

// len counts the live entries, after dropping the expired ones otter has not yet reached.
func (c *tokenCache) len() int {
	c.m.CleanUp()
	return c.m.EstimatedSize()
}
