package core

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/cfaccess/cfaccess/internal/seal"
	"github.com/cfaccess/cfaccess/internal/teamclient"
)

// IdentityStore is a store that the instances of a fleet share, such as Redis or Valkey
// (package github.com/cfaccess/cfaccess/core/redisstore), set as the Store of
// Config.Identities.Shared. An instance that looks up a token's identity at get-identity
// leaves the answer there, and the other instances find it instead of asking Access again:
// one get-identity call per token for the whole fleet rather than one per instance.
//
// It is a plain byte store. The Verifier names its entries with a keyed hash of the token
// and seals them (see SharedStore.Key), so a store never holds a token, and whoever can write
// to it cannot grant a group: an entry that fails to open is ignored. The store is read only
// for a token that has verified, and a store that fails, hangs or answers garbage costs a
// lookup at Access, never a refusal or an allow. Methods may be called concurrently.
type IdentityStore interface {
	// Get returns the value stored under key, or nil and no error when there is none. The
	// Verifier refuses, unread, a value longer than MaxIdentityStoreValueSize; a store may
	// stop reading there.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl (always at least a millisecond), replacing any
	// value there.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// DeadlineStore is an IdentityStore whose Get and Set return by their context's deadline,
// whatever the server does, and say so: the verifier then calls them on the request's own
// goroutine, where it otherwise hands each call to a goroutine of its own so that a store
// that ignores its context cannot hold a request (a handoff that costs a store read about
// as much again as the rest of it on loopback). package core/redisstore's Store is one over
// a go-redis client with ContextTimeoutEnabled.
type DeadlineStore interface {
	IdentityStore
	// HonoursDeadlines reports whether Get and Set return by their context's deadline.
	HonoursDeadlines() bool
}

// MaxIdentityStoreValueSize is the longest value a Verifier writes to an IdentityStore: a
// get-identity document of the largest size read from Access (1 MiB), with the fields it
// decoded to, sealed.
const MaxIdentityStoreValueSize = 2_098_225

// The size above is what the mechanisms make it; this fails to compile if they change.
var _ = [1]struct{}{}[MaxIdentityStoreValueSize-(2*teamclient.MaxBodySize+1024+seal.Overhead)]

// StoreStats counts a Verifier's use of its IdentityStore. The counters only grow. They
// stay zero without a store.
type StoreStats struct {
	Hits        uint64 // lookups answered by an entry of the store: a get-identity call saved each
	Misses      uint64 // lookups that found no entry, each followed by a get-identity call
	Errors      uint64 // reads that failed or timed out, each followed by a get-identity call
	Rejected    uint64 // entries ignored: expired, stale for this instance's TTL, or not sealed for this token and team with the key
	Skipped     uint64 // reads and writes not made: the store failed lately (the breaker is open), or too many operations are under way
	Writes      uint64 // answers of get-identity written to the store
	WriteErrors uint64 // writes that failed or timed out
}

// isNil reports whether v, an interface value that is not nil, holds a nil pointer (or map,
// func…), whose methods would fail on every call. It never panics.
func isNil(v any) bool {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// Bounds on what a store that fails or hangs may cost.
const (
	// maxStoreInFlight bounds the store operations under way, reads and writes together: a
	// store that ignores its context keeps a goroutine per operation until it answers, and
	// this many at most; beyond, operations skip the store.
	maxStoreInFlight = 64
	// storeTripAfter failures in a row (errors or timeouts) of reads, or of writes, open
	// their breaker: they skip the store for storeOpenFor, then one probes it.
	storeTripAfter = 3
)

// storeOpenFor is how long reads, or writes, skip a store that keeps failing before one
// probes it again. A variable, so that tests need not wait as long.
var storeOpenFor = 5 * time.Second

var errStoreSkipped = errors.New("the identity store is skipped")

// sharedIdentities is the identity cache's loader when a store is configured: the store
// first, then get-identity, whose answer it leaves in the store for the other instances.
type sharedIdentities struct {
	cfg           *settings
	st            *storeSettings
	inline        bool           // the store honours deadlines: call it on the caller's goroutine
	fetch         identityLoader // get-identity
	stats         storeCounters
	inFlight      chan struct{}  // a slot per store operation under way
	reads, writes *storeBreaker  // skip a store whose reads, or writes, keep failing
	rejects       rate.Sometimes // logs rejected entries at most once a minute
}

func newSharedIdentities(cfg *settings, st *storeSettings, fetch identityLoader) *sharedIdentities {
	ds, ok := st.store.(DeadlineStore)
	return &sharedIdentities{cfg: cfg, st: st, fetch: fetch, inline: ok && ds.HonoursDeadlines(),
		inFlight: make(chan struct{}, maxStoreInFlight),
		reads:    newStoreBreaker(cfg, "reads"),
		writes:   newStoreBreaker(cfg, "writes"),
		rejects:  rate.Sometimes{Interval: time.Minute}}
}

// storeBreaker is a circuit breaker over one kind of store operation.
type storeBreaker = gobreaker.CircuitBreaker[[]byte]

func newStoreBreaker(cfg *settings, op string) *storeBreaker {
	openFor := storeOpenFor
	return gobreaker.NewCircuitBreaker[[]byte](gobreaker.Settings{
		Name:        op,
		MaxRequests: 1,
		Timeout:     openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= storeTripAfter },
		// Logged on each change of state, not on each failure: while a store is down,
		// every new token would log one.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			switch {
			case to == gobreaker.StateOpen && from == gobreaker.StateClosed:
				cfg.log.Warn("cfaccess: identity store "+op+" failing; skipping them, looking identities up at Access",
					"retry_in", openFor)
			case to == gobreaker.StateClosed:
				cfg.log.Info("cfaccess: identity store " + op + " succeed again")
			}
		},
	})
}

type storeCounters struct {
	hits, misses, errors, rejected, skipped, writes, writeErrors atomic.Uint64
}

func (c *storeCounters) snapshot() StoreStats {
	return StoreStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errors.Load(), Rejected: c.rejected.Load(),
		Skipped: c.skipped.Load(), Writes: c.writes.Load(), WriteErrors: c.writeErrors.Load(),
	}
}

// load is the identityLoader that follows read: get-identity, whose answer it leaves in the
// store for the other instances. token has verified here; its exp is exp.
func (s *sharedIdentities) load(ctx context.Context, token string, exp time.Time) (*Identity, time.Time, error) {
	name, key := s.entry(token)
	id, _, err := s.fetch(ctx, token, exp)
	if err != nil {
		return nil, time.Time{}, err // failures are for this instance to remember, not the fleet
	}
	now := s.cfg.now()
	until := earliest(now.Add(s.cfg.identityTTL), exp)
	doc := encodeIdentity(id, now)
	// An entry too large for the readers to take (a document of invalid UTF-8, which
	// decoding spells three times as long) is not written: it would only count against the
	// store's health.
	if ttl := until.Sub(now); ttl >= time.Millisecond && len(doc)+seal.Overhead <= MaxIdentityStoreValueSize {
		// The request does not wait for the write; the write waits no longer than a read.
		go s.write(context.WithoutCancel(ctx), key, name, doc, until, ttl)
	}
	return id, until, nil
}

// entry returns the name of token's entry, and its key in the store.
func (s *sharedIdentities) entry(token string) (seal.Name, string) {
	name := s.st.sealer.Name(token)
	var key [2 * len(name)]byte
	hex.Encode(key[:], name[:])
	return name, string(key[:])
}

// read is an identityReader: the identity in token's entry, and until when it may be used,
// when there is one that opens, has not expired, and is no older than this instance's TTL:
// the writer decides nothing of how stale an answer may get here. token has verified here;
// its exp is exp.
func (s *sharedIdentities) read(ctx context.Context, token string, exp time.Time) (*Identity, time.Time, bool) {
	name, key := s.entry(token)
	val, err := s.call(ctx, s.reads, func(ctx context.Context) ([]byte, error) { return s.st.store.Get(ctx, key) })
	switch {
	case errors.Is(err, errStoreSkipped):
		s.stats.skipped.Add(1)
		return nil, time.Time{}, false
	case err != nil:
		s.stats.errors.Add(1)
		return nil, time.Time{}, false
	case len(val) == 0:
		s.stats.misses.Add(1)
		return nil, time.Time{}, false
	}
	now := s.cfg.now()
	doc, expiry, err := s.st.sealer.Open(val, name)
	var id *Identity
	var fetched time.Time
	if err == nil {
		id, fetched, err = decodeIdentityEntry(doc)
	}
	if err != nil {
		s.stats.rejected.Add(1)
		s.rejects.Do(func() {
			s.cfg.log.Warn("cfaccess: identity store entry rejected; looking the identity up at Access (logged at most once a minute)",
				"entry", key, "error", err)
		})
		return nil, time.Time{}, false
	}
	until := earliest(expiry, exp, fetched.Add(s.cfg.identityTTL))
	if !now.Before(until) {
		// A clock ahead of the writer's, an entry kept past its TTL, or a writer with a longer
		// TTL than this instance's: no sign of an attack.
		s.stats.rejected.Add(1)
		return nil, time.Time{}, false
	}
	s.stats.hits.Add(1)
	return id, until, true
}

// write seals doc, valid until until, into the entry named key for ttl.
func (s *sharedIdentities) write(ctx context.Context, key string, name seal.Name, doc []byte, until time.Time, ttl time.Duration) {
	val, err := s.st.sealer.Seal(doc, name, until)
	if err == nil {
		_, err = s.call(ctx, s.writes, func(ctx context.Context) ([]byte, error) { return nil, s.st.store.Set(ctx, key, val, ttl) })
	}
	switch {
	case errors.Is(err, errStoreSkipped):
		s.stats.skipped.Add(1)
	case err != nil:
		s.stats.writeErrors.Add(1)
	default:
		s.stats.writes.Add(1)
	}
}

// call runs op through breaker, with the store timeout, and returns when op does or when
// the timeout passes, whichever comes first, whatever the store does with its context: a
// store client that ignores deadlines, or a hanging server, cannot hold a request longer,
// and keeps at most maxStoreInFlight goroutines. A panic of the store is an error.
func (s *sharedIdentities) call(ctx context.Context, breaker *storeBreaker, op func(context.Context) ([]byte, error)) ([]byte, error) {
	select {
	case s.inFlight <- struct{}{}:
	default:
		return nil, errStoreSkipped
	}
	started := false
	val, err := breaker.Execute(func() ([]byte, error) {
		started = true
		ctx, cancel := context.WithTimeout(ctx, s.st.timeout)
		defer cancel()
		if s.inline {
			defer func() { <-s.inFlight }()
			return s.guarded(ctx, op)
		}
		type result struct {
			val []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			defer func() { <-s.inFlight }() // the slot is freed when the store answers, not before
			val, err := s.guarded(ctx, op)
			done <- result{val, err}
		}()
		select {
		case r := <-done:
			return r.val, r.err
		case <-ctx.Done():
			return nil, fmt.Errorf("the identity store did not answer within %s", s.st.timeout)
		}
	})
	if !started { // the breaker is open, or probing: the operation never began
		<-s.inFlight
		return nil, errStoreSkipped
	}
	return val, err
}

// guarded runs op, turning a panic of the store, or a value too long, into an error.
func (s *sharedIdentities) guarded(ctx context.Context, op func(context.Context) ([]byte, error)) (val []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			val, err = nil, fmt.Errorf("the identity store panicked: %v", r)
		}
	}()
	val, err = op(ctx)
	if len(val) > MaxIdentityStoreValueSize {
		val, err = nil, fmt.Errorf("the identity store returned %d bytes, more than MaxIdentityStoreValueSize", len(val))
	}
	return val, err
}

func earliest(t time.Time, more ...time.Time) time.Time {
	for _, u := range more {
		if u.Before(t) {
			t = u
		}
	}
	return t
}
