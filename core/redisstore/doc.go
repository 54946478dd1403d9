// Package redisstore keeps the get-identity answers of a fleet of cfaccess verifiers in
// Redis or Valkey, so that a token costs one get-identity call for the whole fleet rather
// than one per instance: a [core.IdentityStore] over the application's own go-redis
// client, standalone, Sentinel (failover) or Cluster alike.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb)
//	…
//	v, err := core.NewVerifier(core.Config{
//		TeamDomain:       "myteam",
//		Audiences:        []string{aud},
//		IdentityStore:    store,
//		IdentityStoreKey: key, // ≥ 32 random bytes, the same on every instance
//	})
//
// The store holds what the verifier gives it: entries named by a keyed hash of the token and
// sealed with the fleet's key, never a token or a readable identity; see
// core.Config.IdentityStore for what is shared, and when it is not. Keys are the prefix
// ([DefaultPrefix] unless [WithPrefix] says otherwise) and 64 hex digits, and expire
// with the entry (SET with PX), so the store needs no upkeep.
//
// A store that is down, slow or full costs each lookup the verifier's
// Config.IdentityStoreTimeout (50 ms by default), then a call to get-identity, as without a
// store. The verifier bounds every call itself; a client with ContextTimeoutEnabled also
// gives up its connection then, instead of at its own ReadTimeout.
package redisstore
