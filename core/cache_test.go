package core_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func TestCacheHitSharesClaims(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	tok := srv.User("ann@example.com")
	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := v.Verify(context.Background(), tok)
		if err != nil || again != first {
			t.Fatalf("repeat Verify = %p, %v; want the cached %p", again, err, first)
		}
	}
	if n := v.Stats().CachedTokens; n != 1 {
		t.Errorf("CachedTokens = %d, want 1", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.Tokens.CacheSize = core.None
	v := testkit.NewVerifier(t, cfg)
	tok := srv.User("ann@example.com")
	a, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Verify(context.Background(), tok)
	if err != nil || a == b {
		t.Fatalf("with the cache off, Verify returned %p twice (%v)", a, err)
	}
	if n := v.Stats().CachedTokens; n != 0 {
		t.Errorf("CachedTokens = %d", n)
	}
}

// TestCacheRechecksTimes: a cached token expires at exp + leeway to the nanosecond, like an
// uncached one, and leaves the cache; should the clock step back, it is not valid before
// nbf - leeway either. (TestCachedTokenTimes, inside the package, holds the verifier's own
// check of each hit to this, apart from the cache's expiry.)
func TestCacheRechecksTimes(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()
	base := clk.Now().Truncate(time.Second)
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: base, ExpiresAt: base.Add(time.Minute)})
	first, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(base.Add(time.Minute + core.DefaultLeeway - time.Nanosecond))
	if c, err := v.Verify(ctx, tok); err != nil || c != first {
		t.Fatalf("just inside the leeway: %p, %v", c, err)
	}
	clk.Advance(time.Nanosecond)
	_, err = v.Verify(ctx, tok)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonExpired)
	// The cache drops expired entries on its timer wheel, whose ticks are about a second:
	// past the next one, the token holds no room.
	clk.Advance(2 * time.Second)
	if n := v.Stats().CachedTokens; n != 0 {
		t.Errorf("expired token still cached (%d entries)", n)
	}

	// nbf too, should the clock step back (NTP corrections do that).
	tok2 := srv.Mint(accesstest.Token{Email: "bob@example.com", IssuedAt: clk.Now()})
	mustVerify(t, v, tok2, "")
	hits := v.Stats().TokenCache.Hits
	clk.Advance(-core.DefaultLeeway - time.Second)
	_, err = v.Verify(ctx, tok2)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonNotYetValid)
	if got := v.Stats().TokenCache.Hits; got != hits+1 {
		t.Errorf("token cache hits %d → %d: the refusal did not come from the cache", hits, got)
	}
}

// TestCacheIsBounded feeds more distinct valid tokens than the cache holds.
func TestCacheIsBounded(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	cfg.Tokens.CacheSize = 8
	v := testkit.NewVerifier(t, cfg)
	for i := range 40 {
		tok := srv.Mint(accesstest.Token{Email: fmt.Sprintf("u%d@example.com", i), IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Minute)})
		mustVerify(t, v, tok, "")
		if n := v.Stats().CachedTokens; n > 8 || n != min(i+1, 8) {
			t.Fatalf("after %d tokens CachedTokens = %d", i+1, n)
		}
	}
	// Expired entries are swept before live ones are evicted (a tick of the cache's timer
	// wheel, about a second, after they expire).
	clk.Advance(time.Minute + core.DefaultLeeway + 2*time.Second)
	tok := srv.Mint(accesstest.Token{Email: "late@example.com", IssuedAt: clk.Now()})
	mustVerify(t, v, tok, "")
	if n := v.Stats().CachedTokens; n != 1 {
		t.Errorf("CachedTokens = %d after all others expired, want 1", n)
	}
}

// TestVerifyConcurrent runs cached and uncached verifications, valid and not, from many
// goroutines while keys rotate; run it with -race.
func TestVerifyConcurrent(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.Tokens.CacheSize = 16
	cfg.Keys.UnknownKeyCooldown = time.Millisecond
	v := testkit.NewVerifier(t, cfg)
	valid := make([]string, 32)
	for i := range valid {
		valid[i] = srv.User(fmt.Sprintf("u%d@example.com", i))
	}
	expired := srv.Mint(accesstest.Token{Email: "old@example.com", IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	forged := valid[0][:len(valid[0])-4] + "AAAA"

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ctx := context.Background()
				if c, err := v.Verify(ctx, valid[(g+i)%len(valid)]); err != nil || c == nil {
					t.Errorf("valid token: %v", err)
					return
				}
				if c, err := v.Verify(ctx, expired); err == nil || c != nil {
					t.Error("expired token accepted")
					return
				}
				if c, err := v.Verify(ctx, forged); err == nil || c != nil {
					t.Error("forged token accepted")
					return
				}
			}
		})
	}
	// Rotations keep the original key published (the previous key stays for the overlap),
	// so every valid token must keep verifying.
	srv.RotateKeys()
	_, _ = v.Verify(context.Background(), srv.User("new@example.com"))
	wg.Wait()
	if n := v.Stats().CachedTokens; n > 16 {
		t.Errorf("CachedTokens = %d, over the bound", n)
	}
}

// TestCacheStats: hits, misses and evictions of both caches, as Stats reports them.
func TestCacheStats(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	cfg.Tokens.CacheSize, cfg.Identities.CacheSize = 8, 8
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()
	tok := srv.User("ann@example.com")
	for range 3 {
		if _, err := v.Identity(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	st := v.Stats()
	if want := (core.CacheStats{Hits: 2, Misses: 1}); st.TokenCache != want || st.IdentityCache != want {
		t.Fatalf("after 3 lookups of one token: tokens %+v, identities %+v; want %+v each", st.TokenCache, st.IdentityCache, want)
	}
	if r := st.TokenCache.HitRatio(); r < 0.66 || r > 0.67 {
		t.Errorf("HitRatio = %v", r)
	}
	for i := range 40 {
		if _, err := v.Identity(ctx, srv.User(fmt.Sprintf("u%d@example.com", i))); err != nil {
			t.Fatal(err)
		}
	}
	st = v.Stats()
	if st.CachedTokens != 8 || st.TokenCache.Evictions != 33 || st.TokenCache.Misses != 41 {
		t.Errorf("41 tokens through a cache of 8: %d cached, %+v", st.CachedTokens, st.TokenCache)
	}
	if st.CachedIdentities != 8 || st.IdentityCache.Evictions != 33 || st.IdentityCache.Misses != 41 {
		t.Errorf("41 identities through a cache of 8: %d cached, %+v", st.CachedIdentities, st.IdentityCache)
	}
	// An entry that expires is not an eviction.
	clk.Advance(25 * time.Hour)
	st = v.Stats()
	if st.CachedTokens != 0 || st.CachedIdentities != 0 || st.TokenCache.Evictions != 33 || st.IdentityCache.Evictions != 33 {
		t.Errorf("after every entry expired: %d tokens, %d identities, evictions %d and %d",
			st.CachedTokens, st.CachedIdentities, st.TokenCache.Evictions, st.IdentityCache.Evictions)
	}
}

// TestCacheHitNeedsTheWholeToken: the cache finds a token by the end of its signature, but a
// hit needs the whole token. A token that shares a cached token's signature, with another
// header or payload (here claiming to be someone else), is verified in full and refused, and
// leaves the cached token where it was.
func TestCacheHitNeedsTheWholeToken(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	ctx := context.Background()
	tok := srv.User("ann@example.com")
	mustVerify(t, v, tok, "")
	parts := strings.Split(tok, ".")
	other := strings.Split(srv.User("admin@example.com"), ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"kid":"` + srv.CurrentKeyID() + `","alg":"RS256"}`))
	for _, forged := range []string{
		parts[0] + "." + other[1] + "." + parts[2],
		header + "." + parts[1] + "." + parts[2],
		parts[0] + "." + parts[1] + "x." + parts[2],
	} {
		c, err := v.Verify(ctx, forged)
		if err == nil {
			t.Fatalf("a token with a cached token's signature passed as %s", c.Email)
		}
		testkit.WantCode(t, err, core.CodeInvalidToken, "")
	}
	if c, err := v.Verify(ctx, tok); err != nil || c.Email != "ann@example.com" {
		t.Fatalf("the cached token after the forgeries: %v, %v", c, err)
	}
	if st := v.Stats(); st.CachedTokens != 1 || st.TokenCache.Hits != 1 || st.TokenCache.Misses != 4 {
		t.Errorf("stats = %d cached, %+v; want 1 cached, 1 hit, 4 misses", st.CachedTokens, st.TokenCache)
	}
}

// TestCacheWithdrawnKeyVoidsHits: once a refresh no longer lists the key that signed a cached
// token, the very next lookup of the token is a miss and a refusal, not a hit.
func TestCacheWithdrawnKeyVoidsHits(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	old := srv.CurrentKeyID()
	tok := srv.User("ann@example.com")
	for range 2 {
		mustVerify(t, v, tok, "")
	}
	srv.RotateKeys()
	srv.RemoveKey(old)
	clk.Advance(core.DefaultUnknownKeyCooldown)
	bob := srv.Mint(accesstest.Token{Email: "bob@example.com", IssuedAt: clk.Now()})
	if _, err := v.Verify(ctx, bob); err != nil { // a new kid fetches the set
		t.Fatal(err)
	}
	_, err := v.Verify(ctx, tok)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	if st := v.Stats(); st.TokenCache.Hits != 1 || st.CachedTokens != 1 {
		t.Errorf("stats = %d cached, %+v; want the withdrawn token's lookup a miss, and it gone", st.CachedTokens, st.TokenCache)
	}
}
