package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/redisstore"
	"github.com/cfaccess/cfaccess/internal/redistest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// BenchmarkIdentityLookup looks one verified token's identity up the three ways an instance
// can answer it: from its in-process cache (every request of a token after the first), from
// the identity store in Redis on loopback (the first request of a token on an instance when
// another instance has looked it up), and from get-identity, here a fake team domain on
// loopback (the first request of a token in the fleet; Access itself is a round trip to
// Cloudflare, tens to hundreds of milliseconds). The token is verified from the cache in all
// three; the identity document has three groups and a device posture, about 1.5 KB.
// redis_bare_GET is the floor of the Redis path: a GET of the same entry, alone.
func BenchmarkIdentityLookup(b *testing.B) {
	team := testkit.NewTeam(b)
	token := team.Mint(accesstest.Token{
		Email:     "ann.smith@example.com",
		Groups:    []string{"engineering", "admins", "on-call"},
		ExpiresAt: time.Now().Add(24 * time.Hour),
		Identity: map[string]any{"devicePosture": map[string]any{
			"f3b1c2d4-disk": map[string]any{"success": true, "rule_name": "disk encryption", "type": "disk_encryption"},
			"a9e8d7c6-os":   map[string]any{"success": true, "rule_name": "os version", "type": "os_version"},
		}},
	})
	ctx := context.Background()
	noCache := func(cfg core.Config) core.Config { cfg.Identities.CacheSize = core.None; return cfg }

	run := func(b *testing.B, v *core.Verifier) {
		b.Helper()
		if _, err := v.Identity(ctx, token); err != nil { // verifies the token, fills the store
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := v.Identity(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.Run("in-process_cache", func(b *testing.B) {
		run(b, quietVerifier(b, team.Config()))
	})
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redisstore.New(rdb)
	if err != nil {
		b.Fatal(err)
	}
	cfg := team.Config()
	cfg.Identities.Shared = &core.SharedStore{Store: store, Key: make([]byte, core.MinStoreKeySize)}
	// An instance writes the entry; the benchmark's instance has no cache of its own, so it
	// reads the entry on every lookup.
	writer := quietVerifier(b, cfg)
	if _, err := writer.Identity(ctx, token); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); writer.Stats().IdentityStore.Writes == 0; {
		if st := writer.Stats().IdentityStore; st.WriteErrors+st.Skipped != 0 || time.Now().After(deadline) {
			b.Fatalf("the entry was not written: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	b.Run("redis_store", func(b *testing.B) {
		reader := quietVerifier(b, noCache(cfg))
		calls := team.IdentityRequests()
		run(b, reader)
		if st := reader.Stats().IdentityStore; team.IdentityRequests() != calls || st.Hits == 0 || st.Misses+st.Errors+st.Rejected != 0 {
			b.Fatalf("not every lookup came from Redis: %d get-identity calls, %+v", team.IdentityRequests()-calls, st)
		}
	})
	b.Run("redis_bare_GET", func(b *testing.B) {
		keys := rdb.Keys(ctx, redisstore.DefaultPrefix+"*").Val()
		if len(keys) != 1 {
			b.Fatalf("keys %q", keys)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := rdb.Get(ctx, keys[0]).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-identity", func(b *testing.B) {
		run(b, quietVerifier(b, noCache(team.Config())))
	})
}
