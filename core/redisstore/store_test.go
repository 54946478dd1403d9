package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/redisstore"
	"github.com/cfaccess/cfaccess/internal/redistest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// fleetKey is the secret the instances of these tests share.
var fleetKey = bytes.Repeat([]byte{0x42}, core.MinStoreKeySize)

// client returns a client of its own for addr, as each instance of a fleet has, closed when
// t ends.
func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// instance is one instance of a fleet: a verifier of team whose identity store is Redis at
// addr, through a client of its own. edit, when given, changes the configuration first.
func instance(t *testing.T, team *accesstest.Server, addr string, edit ...func(*core.Config)) *core.Verifier {
	t.Helper()
	store, err := redisstore.New(client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	cfg := team.Config()
	cfg.Logger = testkit.QuietLogger()
	cfg.Identities.Shared = &core.SharedStore{Store: store, Key: fleetKey}
	for _, e := range edit {
		e(&cfg)
	}
	return testkit.NewVerifier(t, cfg)
}

// entries returns the store's keys in Redis, sorted.
func entries(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), redisstore.DefaultPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// written waits until v has written n entries, and returns the keys in Redis.
func written(t *testing.T, v *core.Verifier, rdb *redis.Client, n uint64) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for v.Stats().IdentityStore.Writes < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes, want %d: %+v", v.Stats().IdentityStore.Writes, n, v.Stats().IdentityStore)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return entries(t, rdb)
}

// wantGroups looks token's identity up through v and checks its e-mail and groups.
func wantGroups(t *testing.T, v *core.Verifier, token, email string, groups ...string) {
	t.Helper()
	id, err := v.Identity(context.Background(), token)
	if err != nil {
		t.Fatalf("identity of %s: %v", email, err)
	}
	var names []string
	for _, g := range id.Groups {
		names = append(names, g.Name)
	}
	if id.Email != email || !slices.Equal(names, groups) {
		t.Fatalf("identity %s %q, want %s %q", id.Email, names, email, groups)
	}
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv.Addr)
	ctx := context.Background()
	store, err := redisstore.New(rdb)
	if err != nil {
		t.Fatal(err)
	}

	if v, err := store.Get(ctx, "absent"); v != nil || err != nil {
		t.Errorf("missing key: %q, %v; want nil, nil", v, err)
	}
	if err := store.Set(ctx, "k", []byte("value\x00\xff"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, err := store.Get(ctx, "k"); string(v) != "value\x00\xff" || err != nil {
		t.Errorf("Get = %q, %v", v, err)
	}
	if ttl := rdb.PTTL(ctx, redisstore.DefaultPrefix+"k").Val(); ttl > 90*time.Second || ttl < 89*time.Second {
		t.Errorf("PTTL = %s, want 90s", ttl)
	}
	// Below a millisecond, Redis's precision: one millisecond rather than an error.
	if err := store.Set(ctx, "brief", []byte("x"), time.Microsecond); err != nil {
		t.Errorf("a sub-millisecond TTL: %v", err)
	}

	// A value planted in Redis is read no further than one byte past what the verifier accepts.
	huge := bytes.Repeat([]byte{'x'}, core.MaxIdentityStoreValueSize+4096)
	rdb.Set(ctx, redisstore.DefaultPrefix+"huge", huge, time.Minute)
	if v, err := store.Get(ctx, "huge"); err != nil || len(v) != core.MaxIdentityStoreValueSize+1 {
		t.Errorf("a huge value: %d bytes read, %v", len(v), err)
	}

	app, err := redisstore.New(rdb, redisstore.WithPrefix("myapp:"))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Set(ctx, "k", []byte("mine"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, "myapp:k").Val(); v != "mine" {
		t.Errorf("myapp:k = %q", v)
	}
	if v, _ := store.Get(ctx, "k"); string(v) != "value\x00\xff" {
		t.Errorf("prefixes share a key: %q", v)
	}

	if _, err := redisstore.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
	var typedNil *redis.ClusterClient
	if _, err := redisstore.New(typedNil); err == nil {
		t.Error("New of a nil *redis.ClusterClient: no error")
	}
}

// TestFleetSharesOneLookup: two instances, each with its own client of one Redis, make one
// get-identity call for a token between them. The entry in Redis is opaque and expires with
// the identity.
func TestFleetSharesOneLookup(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv.Addr)
	team := testkit.NewTeam(t)
	a, b := instance(t, team, srv.Addr), instance(t, team, srv.Addr)
	member := team.User("ann@example.com", "admins", "staff")

	wantGroups(t, a, member, "ann@example.com", "admins", "staff")
	keys := written(t, a, rdb, 1)
	wantGroups(t, b, member, "ann@example.com", "admins", "staff")
	if n := team.IdentityRequests(); n != 1 {
		t.Errorf("get-identity called %d times by two instances for one token, want 1", n)
	}
	if st := b.Stats().IdentityStore; st.Hits != 1 {
		t.Errorf("b's store stats: %+v", st)
	}

	if len(keys) != 1 || len(strings.TrimPrefix(keys[0], redisstore.DefaultPrefix)) != 64 {
		t.Fatalf("keys %q, want one: the prefix and 64 hex digits", keys)
	}
	val, _ := rdb.Get(context.Background(), keys[0]).Bytes()
	for _, secret := range []string{member, member[:40], "ann@example.com", "admins"} {
		if strings.Contains(keys[0], secret) || bytes.Contains(val, []byte(secret)) {
			t.Errorf("Redis shows %q", secret)
		}
	}
	ttl := rdb.PTTL(context.Background(), keys[0]).Val()
	if ttl > core.DefaultIdentityTTL || ttl < core.DefaultIdentityTTL-10*time.Second {
		t.Errorf("PTTL = %s, want the identity TTL, %s", ttl, core.DefaultIdentityTTL)
	}

	// A token that expires sooner: its entry expires with it.
	soon := team.Mint(accesstest.Token{Email: "bob@example.com", ExpiresAt: time.Now().Add(90 * time.Second)})
	wantGroups(t, a, soon, "bob@example.com")
	for _, k := range written(t, a, rdb, 2) {
		if k != keys[0] {
			if ttl := rdb.PTTL(context.Background(), k).Val(); ttl > 90*time.Second || ttl < 80*time.Second {
				t.Errorf("PTTL of a token expiring in 90s = %s", ttl)
			}
		}
	}
}

// TestEntriesThatDoNotOpenAreIgnored: whoever can write to Redis cannot grant a group. An
// entry tampered with, another team's, expired, garbage, of another type or huge is
// ignored, and the identity comes from Access.
func TestEntriesThatDoNotOpenAreIgnored(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv.Addr)
	ctx := context.Background()
	team, other := testkit.NewTeam(t), testkit.NewTeam(t)

	// The other team's admin has an entry, written by an instance of that team.
	otherAdmin := other.User("root@example.com", "admins")
	ov := instance(t, other, srv.Addr)
	wantGroups(t, ov, otherAdmin, "root@example.com", "admins")
	adminKey := written(t, ov, rdb, 1)[0]
	adminEntry, _ := rdb.Get(ctx, adminKey).Bytes()

	for _, tc := range []struct {
		name   string
		spoil  func(key string, own []byte)
		reject bool // counted as rejected, rather than as a read error
	}{
		{"tampered with", func(key string, own []byte) {
			rdb.SetRange(ctx, key, 40, string([]byte{own[40] ^ 0x20}))
		}, true},
		{"another team's admin's entry", func(key string, _ []byte) { rdb.Set(ctx, key, adminEntry, time.Minute) }, true},
		{"garbage", func(key string, _ []byte) {
			rdb.Set(ctx, key, `{"email":"bob@example.com","groups":["admins"]}`, time.Minute)
		}, true},
		{"another type", func(key string, _ []byte) { rdb.Del(ctx, key); rdb.RPush(ctx, key, "admins") }, false},
		{"huge", func(key string, _ []byte) {
			rdb.Set(ctx, key, bytes.Repeat([]byte{1}, 2*core.MaxIdentityStoreValueSize), time.Minute)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outsider := team.User("bob@example.com", "staff")
			w := instance(t, team, srv.Addr)
			before := entries(t, rdb)
			wantGroups(t, w, outsider, "bob@example.com", "staff")
			var key string
			for _, k := range written(t, w, rdb, 1) {
				if !slices.Contains(before, k) {
					key = k
				}
			}
			own, _ := rdb.Get(ctx, key).Bytes()
			tc.spoil(key, own)

			calls := team.IdentityRequests()
			r := instance(t, team, srv.Addr)
			wantGroups(t, r, outsider, "bob@example.com", "staff")
			if team.IdentityRequests() != calls+1 {
				t.Errorf("get-identity calls %d → %d: the spoilt entry was used", calls, team.IdentityRequests())
			}
			st := r.Stats().IdentityStore
			if tc.reject && (st.Rejected != 1 || st.Errors != 0) || !tc.reject && (st.Errors != 1 || st.Rejected != 0) || st.Hits != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		clock := func(c *core.Config) { c.Now = func() time.Time { return time.Unix(0, now.Load()) } }
		w, r := instance(t, team, srv.Addr, clock), instance(t, team, srv.Addr, clock)
		tok := team.User("cy@example.com", "staff")
		wantGroups(t, w, tok, "cy@example.com", "staff")
		written(t, w, rdb, 1)
		now.Add(int64(core.DefaultIdentityTTL + time.Second)) // Redis still has it: its TTL runs on its own clock
		calls := team.IdentityRequests()
		wantGroups(t, r, tok, "cy@example.com", "staff")
		if st := r.Stats().IdentityStore; team.IdentityRequests() != calls+1 || st.Rejected != 1 {
			t.Errorf("an expired entry: calls %d → %d, stats %+v", calls, team.IdentityRequests(), st)
		}
	})
}

// TestRedisStopped: Redis killed mid-test costs lookups, never answers: both instances keep
// answering, from Access, at once; with Access down too the answer is 503, as without Redis.
func TestRedisStopped(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv.Addr)
	team := testkit.NewTeam(t)
	a, b := instance(t, team, srv.Addr), instance(t, team, srv.Addr)
	shared := team.User("ann@example.com", "admins")
	wantGroups(t, a, shared, "ann@example.com", "admins")
	written(t, a, rdb, 1)
	wantGroups(t, b, shared, "ann@example.com", "admins")

	srv.Stop()
	member, outsider := team.User("dee@example.com", "admins"), team.User("eve@example.com", "staff")
	calls := team.IdentityRequests()
	for _, v := range []*core.Verifier{a, b} {
		start := time.Now()
		wantGroups(t, v, member, "dee@example.com", "admins")
		wantGroups(t, v, outsider, "eve@example.com", "staff")
		wantGroups(t, v, shared, "ann@example.com", "admins") // from the instance's own cache
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("three lookups took %s with Redis down", took)
		}
		if st := v.Stats().IdentityStore; st.Errors != 2 {
			t.Errorf("store stats with Redis down: %+v", st)
		}
	}
	if n := team.IdentityRequests() - calls; n != 4 {
		t.Errorf("%d get-identity calls for two tokens on two instances, want 4", n)
	}

	team.FailIdentity(accesstest.Status500)
	_, err := a.Identity(context.Background(), team.User("fay@example.com", "admins"))
	if !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("Redis and Access down: %v, want ErrUnavailable", err)
	}
}

// TestRedisHangs: a Redis that does not answer holds a lookup no longer than
// SharedStore.Timeout, whether the server is busy (DEBUG SLEEP) or a listener never answers,
// and whatever the client's own timeouts.
func TestRedisHangs(t *testing.T) {
	const timeout = 40 * time.Millisecond
	withTimeout := func(c *core.Config) { c.Identities.Shared.Timeout = timeout }
	bounded := func(t *testing.T, v *core.Verifier, team *accesstest.Server) {
		t.Helper()
		start := time.Now()
		wantGroups(t, v, team.User("ann@example.com", "admins"), "ann@example.com", "admins")
		// The read's timeout and a loopback call to get-identity; the hang lasts seconds.
		if took := time.Since(start); took > time.Second {
			t.Errorf("the lookup took %s", took)
		}
		if st := v.Stats().IdentityStore; st.Errors != 1 {
			t.Errorf("stats: %+v", st)
		}
	}

	t.Run("DEBUG SLEEP", func(t *testing.T) {
		srv := redistest.Start(t)
		rdb := client(t, srv.Addr)
		team := testkit.NewTeam(t)
		v := instance(t, team, srv.Addr, withTimeout)
		if err := rdb.Do(context.Background(), "DEBUG", "SLEEP", "0").Err(); err != nil {
			t.Skipf("SKIPPED: this redis-server refuses DEBUG (%v); the silent listener below still runs", err)
		}
		sleeper := client(t, srv.Addr)
		go func() { _ = sleeper.Do(context.Background(), "DEBUG", "SLEEP", "2").Err() }()
		time.Sleep(100 * time.Millisecond) // let the server fall asleep
		bounded(t, v, team)
	})

	t.Run("a listener that never answers", func(t *testing.T) {
		ln := testkit.Listen(t)
		var held []net.Conn
		var mu sync.Mutex
		t.Cleanup(func() {
			ln.Close()
			mu.Lock()
			for _, c := range held {
				c.Close()
			}
			mu.Unlock()
		})
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c) // read nothing, answer nothing
				mu.Unlock()
			}
		}()
		team := testkit.NewTeam(t)
		// The client's defaults: deadlines from the context ignored, a 3 s ReadTimeout.
		rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
		t.Cleanup(func() { _ = rdb.Close() })
		store, err := redisstore.New(rdb)
		if err != nil {
			t.Fatal(err)
		}
		cfg := team.Config()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg.Identities.Shared = &core.SharedStore{Store: store, Key: fleetKey, Timeout: timeout}
		v, err := core.NewVerifier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		bounded(t, v, team)
	})
}

// TestFleetConcurrent: three instances, each with its own client, and many requests of
// several tokens at once, under -race: every answer right, at most one get-identity call
// per token and instance.
func TestFleetConcurrent(t *testing.T) {
	srv := redistest.Start(t)
	team := testkit.NewTeam(t)
	fleet := []*core.Verifier{instance(t, team, srv.Addr), instance(t, team, srv.Addr), instance(t, team, srv.Addr)}
	testkit.FleetLookups(t, team, fleet, 10)
	var hits uint64
	for _, v := range fleet {
		hits += v.Stats().IdentityStore.Hits
	}
	t.Logf("%d get-identity calls for 10 tokens on %d instances; %d lookups answered by Redis", team.IdentityRequests(), len(fleet), hits)
}

// TestLeastPrivilege: the ACL that the README gives is all the store needs.
func TestLeastPrivilege(t *testing.T) {
	srv := redistest.Start(t)
	admin := client(t, srv.Addr)
	ctx := context.Background()
	if err := admin.Do(ctx, "ACL", "SETUSER", "cfaccess", "on", ">secret", "~cfaccess:identity:*", "+getrange", "+set").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "cfaccess", Password: "secret", ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if v, err := store.Get(ctx, "k"); string(v) != "v" || err != nil {
		t.Fatalf("Get: %q, %v", v, err)
	}
	if err := rdb.Get(ctx, "cfaccess:identity:k").Err(); err == nil {
		t.Error("the ACL allows GET: it is not the least the store needs")
	}
	other, err := redisstore.New(rdb, redisstore.WithPrefix("other:"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Set(ctx, "k", []byte("v"), time.Minute); err == nil {
		t.Error("the ACL allows keys outside the prefix")
	}
}

// wrapped holds a client by value, as an application's own type may, to add methods of its
// own: a client that is no pointer.
type wrapped struct{ redis.UniversalClient }

// TestNewClientInAStruct: New takes a client that is not a pointer without panicking, and
// the store works through it.
func TestNewClientInAStruct(t *testing.T) {
	for _, c := range []redis.UniversalClient{wrapped{}, wrapped{(*redis.Client)(nil)}} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("New(%#v) panicked: %v", c, p)
				}
			}()
			_, _ = redisstore.New(c)
		}()
	}

	srv := redistest.Start(t)
	ctx := context.Background()
	store, err := redisstore.New(wrapped{client(t, srv.Addr)})
	if err != nil {
		t.Fatalf("New of a client in a struct: %v", err)
	}
	if err := store.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := store.Get(ctx, "k"); string(v) != "v" || err != nil {
		t.Errorf("Get = %q, %v", v, err)
	}
}

// TestHonoursDeadlines: the store says it honours its context's deadline exactly when its
// client was made with ContextTimeoutEnabled, whatever the kind of client.
func TestHonoursDeadlines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		want   bool
	}{
		{"client", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true}), true},
		{"client without", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), false},
		{"failover", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), true},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true}), true},
		{"cluster without", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), false},
		{"ring", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { tc.client.Close() })
			s, err := redisstore.New(tc.client)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.HonoursDeadlines(); got != tc.want {
				t.Errorf("HonoursDeadlines() = %v, want %v", got, tc.want)
			}
		})
	}
}
