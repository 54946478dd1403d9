package redisstore_test

import (
	"encoding/hex"
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/redisstore"
)

// Every instance of the fleet gets the same Redis and the same key; each looks a token's
// identity up at Access only when no other instance has.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
	store, err := redisstore.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	key, err := hex.DecodeString(os.Getenv("CF_ACCESS_CACHE_KEY")) // openssl rand -hex 32
	if err != nil {
		log.Fatal(err)
	}
	v, err := core.NewVerifier(core.Config{
		TeamDomain:       "myteam",
		Audiences:        []string{os.Getenv("CF_ACCESS_AUD")},
		IdentityStore:    store,
		IdentityStoreKey: key,
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
	_ = core.Config{IdentityStore: store}
}
