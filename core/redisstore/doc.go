// Package redisstore keeps the get-identity answers of a fleet of cfaccess verifiers in
// Redis or Valkey, so that a token costs one get-identity call for the whole fleet rather
// than one per instance: a [core.IdentityStore] over a go-redis client, standalone,
// Sentinel (failover) or Cluster alike.
//
// From the environment, by the convention of core.ConfigFromEnv ([FromEnv] reads
// CF_ACCESS_REDIS_URL and CF_ACCESS_CACHE_KEY, and returns nil when neither is set):
//
//	cfg, err := core.ConfigFromEnv()
//	…
//	cfg.Identities.Shared, err = redisstore.FromEnv()
//	…
//	v, err := core.NewVerifier(cfg)
//
// Over a client the application already has ([New]):
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb)
//	…
//	cfg.Identities.Shared = &core.SharedStore{
//		Store: store,
//		Key:   key, // ≥ 32 random bytes, the same on every instance
//	}
//
// The store holds what the verifier gives it: entries named by a keyed hash of the token and
// sealed with the fleet's key, never a token or a readable identity; see core.SharedStore
// for what is shared, and when it is not. Keys are the prefix ([DefaultPrefix] unless
// [WithPrefix] says otherwise) and 64 hex digits, and expire with the entry (SET with PX),
// so the store needs no upkeep.
//
// A store that is down, slow or full costs each lookup the verifier's SharedStore.Timeout
// (core.DefaultStoreTimeout, 50 ms, by default), then a call to get-identity, as without a
// store. A client with ContextTimeoutEnabled (as FromEnv makes) gives up its connection
// then, and the Store says so (core.DeadlineStore), so the verifier calls it on the
// request's own goroutine; without it, the verifier bounds each call itself, on a goroutine
// of its own, and the client gives the connection up at its ReadTimeout.
package redisstore
