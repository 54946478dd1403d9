package redisstore_test

import (
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/redisstore"
)

// The wiring of a fleet from the environment: every instance gets the same
// CF_ACCESS_REDIS_URL and CF_ACCESS_CACHE_KEY, and looks a token's identity up at Access only
// when no other instance has. Without the two variables there is no store, and each instance
// keeps its own cache.
func ExampleFromEnv() {
	cfg, err := core.ConfigFromEnv() // CF_ACCESS_TEAM_DOMAIN, CF_ACCESS_AUD
	if err != nil {
		log.Fatal(err)
	}
	cfg.Identities.Shared, err = redisstore.FromEnv() // CF_ACCESS_REDIS_URL, CF_ACCESS_CACHE_KEY
	if err != nil {
		log.Fatal(err)
	}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		log.Fatal(err)
	}
	_ = v // give it to the adapter's Middleware
}

// A client the application already has: the same Redis and the same key on every instance.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
	store, err := redisstore.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	var key []byte // ≥ 32 random bytes, the same on every instance: openssl rand -hex 32, decoded
	v, err := core.NewVerifier(core.Config{
		TeamDomain: "myteam",
		Audiences:  []string{"<AUD tag>"},
		Identities: core.IdentityConfig{
			Shared: &core.SharedStore{Store: store, Key: key},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = v // give it to the adapter's Middleware
}

// A Redis Cluster, or Sentinel, through go-redis's universal client; another prefix keeps the
// entries apart from another application's in the same Redis.
func ExampleNew_cluster() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ContextTimeoutEnabled: true,
	})
	store, err := redisstore.New(rdb, redisstore.WithPrefix("billing:cfaccess:"))
	if err != nil {
		log.Fatal(err)
	}
	var key []byte // as in the example of New
	_ = core.SharedStore{Store: store, Key: key}
}
