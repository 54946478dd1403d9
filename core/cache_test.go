package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

func TestCacheHitSharesClaims(t *testing.T) {
	srv := newServer(t)
	v := newVerifier(t, testConfig(srv, nil))
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
	srv := newServer(t)
	cfg := testConfig(srv, nil)
	cfg.TokenCacheSize = -1
	v := newVerifier(t, cfg)
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
// uncached one, and leaves the cache then.
func TestCacheRechecksTimes(t *testing.T) {
	srv := newServer(t)
	clk := newClock()
	cfg := testConfig(srv, clk)
	v := newVerifier(t, cfg)
	ctx := context.Background()
	base := clk.Now().Truncate(time.Second)
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: base, ExpiresAt: base.Add(time.Minute)})
	first, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(base.Add(time.Minute + core.DefaultLeeway - time.Nanosecond).Sub(clk.Now()))
	if c, err := v.Verify(ctx, tok); err != nil || c != first {
		t.Fatalf("just inside the leeway: %p, %v", c, err)
	}
	clk.Advance(time.Nanosecond)
	_, err = v.Verify(ctx, tok)
	wantCode(t, err, core.CodeInvalidToken, core.ReasonExpired)
	if n := v.Stats().CachedTokens; n != 0 {
		t.Errorf("expired token still cached (%d entries)", n)
	}

	// nbf too, should the clock step back (NTP corrections do that).
	tok2 := srv.Mint(accesstest.Token{Email: "bob@example.com", IssuedAt: clk.Now()})
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	clk.Advance(-core.DefaultLeeway - time.Second)
	_, err = v.Verify(ctx, tok2)
	wantCode(t, err, core.CodeInvalidToken, core.ReasonNotYetValid)
}

// TestCacheIsBounded feeds more distinct valid tokens than the cache holds.
func TestCacheIsBounded(t *testing.T) {
	srv := newServer(t)
	clk := newClock()
	cfg := testConfig(srv, clk)
	cfg.TokenCacheSize = 8
	v := newVerifier(t, cfg)
	ctx := context.Background()
	for i := range 40 {
		tok := srv.Mint(accesstest.Token{Email: fmt.Sprintf("u%d@example.com", i), IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Minute)})
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if n := v.Stats().CachedTokens; n > 8 || n != min(i+1, 8) {
			t.Fatalf("after %d tokens CachedTokens = %d", i+1, n)
		}
	}
	// Expired entries are swept before live ones are evicted.
	clk.Advance(time.Minute + core.DefaultLeeway)
	tok := srv.Mint(accesstest.Token{Email: "late@example.com", IssuedAt: clk.Now()})
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := v.Stats().CachedTokens; n != 1 {
		t.Errorf("CachedTokens = %d after all others expired, want 1", n)
	}
}

// TestVerifyConcurrent runs cached and uncached verifications, valid and not, from many
// goroutines while keys rotate; run it with -race.
func TestVerifyConcurrent(t *testing.T) {
	srv := newServer(t)
	cfg := testConfig(srv, nil)
	cfg.TokenCacheSize = 16
	cfg.UnknownKeyCooldown = time.Millisecond
	v := newVerifier(t, cfg)
	valid := make([]string, 32)
	for i := range valid {
		valid[i] = srv.User(fmt.Sprintf("u%d@example.com", i))
	}
	expired := srv.Mint(accesstest.Token{Email: "old@example.com", IssuedAt: time.Now().Add(-2 * time.Hour)})
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
