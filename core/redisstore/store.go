package redisstore

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
)

// DefaultPrefix starts the name of every key the store writes, unless WithPrefix says
// otherwise.
const DefaultPrefix = "cfaccess:identity:"

// Store is a core.IdentityStore in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ core.DeadlineStore = (*Store)(nil)

// Option configures New.
type Option interface {
	apply(*Store)
}

type optionFunc func(*Store)

func (f optionFunc) apply(s *Store) { f(s) }

// WithPrefix sets the prefix of the store's keys, e.g. to give each application of a shared
// Redis its own ("myapp:cfaccess:"). Applications that share a prefix and an
// core.SharedStore.Key share entries, which is right only for applications of one team.
func WithPrefix(prefix string) Option {
	return optionFunc(func(s *Store) { s.prefix = prefix })
}

// New returns a store over client: a *redis.Client, *redis.ClusterClient, failover
// (Sentinel) client or *redis.Ring, as the application already has. The store does not own
// it: closing it is the application's business.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil || isNil(client) {
		return nil, errors.New("redisstore: the Redis client is nil")
	}
	s := &Store{client: client, prefix: DefaultPrefix}
	for _, o := range opts {
		o.apply(s)
	}
	return s, nil
}

// isNil reports whether client holds a nil pointer; it never panics, whatever it holds.
func isNil(client redis.UniversalClient) bool {
	v := reflect.ValueOf(client)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// HonoursDeadlines reports whether the client gives up a call at its context's deadline:
// whether it was made with ContextTimeoutEnabled (a *redis.Client, including a failover
// one, a *redis.ClusterClient or a *redis.Ring). The verifier then calls the store on the
// request's own goroutine; otherwise on one of its own, so that a call bounded only by the
// client's ReadTimeout (3 s by default) cannot hold a request past Identities.Shared.Timeout.
func (s *Store) HonoursDeadlines() bool {
	switch c := s.client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Get returns the value under the prefixed key, or nil when there is none. It reads at most
// one byte more than core.MaxIdentityStoreValueSize (GETRANGE rather than GET), so a huge
// value planted in Redis costs no more than that before the verifier refuses it.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	val, err := s.client.GetRange(ctx, s.prefix+key, 0, core.MaxIdentityStoreValueSize).Bytes()
	if err != nil || len(val) == 0 { // GETRANGE answers "" for a missing key
		return nil, err
	}
	return val, nil
}

// Set stores value under the prefixed key, expiring after ttl (to the millisecond).
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.client.Set(ctx, s.prefix+key, value, max(ttl, time.Millisecond)).Err()
}
