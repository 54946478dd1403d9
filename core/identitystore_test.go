package core_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// memStore is an IdentityStore in memory, with Redis's semantics (a value per key, gone
// after its TTL), that can be made to fail, and counts its calls.
type memStore struct {
	mu                 sync.Mutex
	entries            map[string]memEntry
	getFault, setFault atomic.Pointer[storeFault]
	gets, sets         atomic.Int64
}

type memEntry struct {
	val   []byte
	ttl   time.Duration
	until time.Time
}

// storeFault is how a memStore call misbehaves.
type storeFault struct {
	err     error
	block   chan struct{} // the call waits for it to close, ignoring its context
	panics  bool
	garbage []byte // Get returns this, whatever the key
}

func newMemStore() *memStore { return &memStore{entries: map[string]memEntry{}} }

func (s *memStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if f := s.getFault.Load(); f != nil {
		if f.garbage != nil {
			return f.garbage, nil
		}
		return nil, f.apply()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok || time.Now().After(e.until) {
		return nil, nil
	}
	return bytes.Clone(e.val), nil
}

func (s *memStore) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	s.sets.Add(1)
	if f := s.setFault.Load(); f != nil {
		return f.apply()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[key] = memEntry{val: bytes.Clone(val), ttl: ttl, until: time.Now().Add(ttl)}
	return nil
}

func (f *storeFault) apply() error {
	if f.block != nil {
		<-f.block
	}
	if f.panics {
		panic("store exploded")
	}
	return f.err
}

// keys returns the names of the entries, sorted.
func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.entries))
}

func (s *memStore) entry(key string) memEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[key]
}

func (s *memStore) put(key string, val []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[key] = memEntry{val: val, ttl: time.Hour, until: time.Now().Add(time.Hour)}
}

// the fleet's shared secret in these tests
var storeKey = bytes.Repeat([]byte{0x5c}, core.MinIdentityStoreKeySize)

// storeConfig is srv's test configuration with store as its identity store.
func storeConfig(srv *accesstest.Server, clk *clock, store core.IdentityStore) core.Config {
	cfg := testConfig(srv, clk)
	cfg.IdentityStore, cfg.IdentityStoreKey = store, storeKey
	return cfg
}

// waitWrites waits until v has written n entries to its store.
func waitWrites(t *testing.T, v *core.Verifier, n uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d store writes", n), func() bool { return v.Stats().IdentityStore.Writes >= n })
}

func groupNames(id *core.Identity) []string {
	var out []string
	for _, g := range id.Groups {
		out = append(out, g.Name)
	}
	return out
}

// TestIdentityStoreSharesLookups: two instances sharing a store make one get-identity call
// for a token between them, and the second gets the same identity.
func TestIdentityStoreSharesLookups(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	a := newVerifier(t, storeConfig(srv, nil, store))
	b := newVerifier(t, storeConfig(srv, nil, store))
	tok := srv.User("ann@example.com", "admins", "staff")

	first, err := a.Identity(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	waitWrites(t, a, 1)
	second, err := b.Identity(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("get-identity called %d times for one token on two instances, want 1", n)
	}
	if string(second.Raw) != string(first.Raw) || second.Email != "ann@example.com" ||
		!slices.Equal(groupNames(second), []string{"admins", "staff"}) || second.Groups[0].ID == "" {
		t.Errorf("from the store: %+v\nfrom Access: %+v", second, first)
	}
	if st := b.Stats().IdentityStore; st.Hits != 1 || st.Misses != 0 || st.Writes != 0 {
		t.Errorf("b's store stats = %+v, want one hit and no write", st)
	}
	if st := a.Stats().IdentityStore; st.Hits != 0 || st.Misses != 1 || st.Writes != 1 {
		t.Errorf("a's store stats = %+v, want one miss and one write", st)
	}
	// b remembers it in process: no second read of the store.
	gets := store.gets.Load()
	if _, err := b.Identity(context.Background(), tok); err != nil || store.gets.Load() != gets {
		t.Errorf("b read the store again (%d → %d reads), err %v", gets, store.gets.Load(), err)
	}
	// A verifier without a store is untouched by it.
	if st := newVerifier(t, testConfig(srv, nil)).Stats().IdentityStore; st != (core.StoreStats{}) {
		t.Errorf("stats without a store = %+v", st)
	}
}

// TestIdentityStoreEntryIsOpaque: an entry is named by a keyed hash and its value sealed:
// neither holds the token, a hash of it, or the identity, and the name of a token's entry
// depends on the key.
func TestIdentityStoreEntryIsOpaque(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	v := newVerifier(t, storeConfig(srv, nil, store))
	tok := srv.User("ann@example.com", "admins")
	if _, err := v.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	waitWrites(t, v, 1)
	keys := store.keys()
	if len(keys) != 1 {
		t.Fatalf("entries %q, want one", keys)
	}
	sum := sha256.Sum256([]byte(tok))
	val := store.entry(keys[0]).val
	for _, secret := range []string{tok, tok[:40], tok[len(tok)-40:], hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:6]),
		"ann@example.com", "admins", "203.0.113.7"} {
		if strings.Contains(keys[0], secret) || bytes.Contains(val, []byte(secret)) {
			t.Errorf("the entry shows %q: key %q", secret, keys[0])
		}
	}
	if len(keys[0]) != 64 {
		t.Errorf("name %q: want 64 hex digits of HMAC-SHA256", keys[0])
	}

	// Another key names the same token's entry otherwise, and cannot read the first.
	other := newMemStore()
	cfg := storeConfig(srv, nil, other)
	cfg.IdentityStoreKey = bytes.Repeat([]byte{0xa7}, 48)
	w := newVerifier(t, cfg)
	if _, err := w.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	waitWrites(t, w, 1)
	if k := other.keys(); len(k) != 1 || k[0] == keys[0] {
		t.Errorf("names under two keys: %q and %q", keys, k)
	}
	// Two tokens of one user have two entries.
	if _, err := v.Identity(context.Background(), srv.User("ann@example.com", "admins")); err != nil {
		t.Fatal(err)
	}
	waitWrites(t, v, 2)
	if k := store.keys(); len(k) != 2 {
		t.Errorf("two tokens: entries %q", k)
	}
}

// TestIdentityStoreRejectsEntries: whoever can write to the store cannot grant a group: an
// entry that was tampered with, sealed under another key, moved from another token's name
// or is garbage is ignored, counted, logged without the token, and the lookup goes to
// Access, whose answer holds.
func TestIdentityStoreRejectsEntries(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	writer := newVerifier(t, storeConfig(srv, nil, store))
	admin := srv.User("root@example.com", "admins")
	if _, err := writer.Identity(context.Background(), admin); err != nil {
		t.Fatal(err)
	}
	waitWrites(t, writer, 1)
	adminEntry := store.entry(store.keys()[0]).val

	// The name the store gives an outsider's token, learnt from a write.
	nameOf := func(tok string) string {
		before := store.keys()
		v := newVerifier(t, storeConfig(srv, nil, store))
		if _, err := v.Identity(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		waitWrites(t, v, 1)
		for _, k := range store.keys() {
			if !slices.Contains(before, k) {
				return k
			}
		}
		t.Fatal("no new entry")
		return ""
	}
	// sealedElsewhere is the entry of tok that an instance with another key writes.
	sealedElsewhere := func(tok string) []byte {
		foreign := newMemStore()
		cfg := storeConfig(srv, nil, foreign)
		cfg.IdentityStoreKey = bytes.Repeat([]byte{0x01}, 32)
		v := newVerifier(t, cfg)
		if _, err := v.Identity(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		waitWrites(t, v, 1)
		return foreign.entry(foreign.keys()[0]).val
	}
	flip := func(entry []byte, i int) []byte {
		b := bytes.Clone(entry)
		b[(i+len(b))%len(b)] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name  string
		entry func(own []byte, tok string) []byte // the outsider's entry becomes this
	}{
		{"an admin's entry moved to an outsider's name", func([]byte, string) []byte { return adminEntry }},
		{"sealed under another key", func(_ []byte, tok string) []byte { return sealedElsewhere(tok) }},
		{"version byte flipped", func(own []byte, _ string) []byte { return flip(own, 0) }},
		{"salt flipped", func(own []byte, _ string) []byte { return flip(own, 5) }},
		{"ciphertext flipped", func(own []byte, _ string) []byte { return flip(own, 60) }},
		{"tag flipped", func(own []byte, _ string) []byte { return flip(own, -1) }},
		{"truncated", func(own []byte, _ string) []byte { return own[:len(own)-1] }},
		{"extended", func(own []byte, _ string) []byte { return append(bytes.Clone(own), 0) }},
		{"plain JSON naming the group", func([]byte, string) []byte {
			return []byte(`{"email":"bob@example.com","groups":["admins"]}`)
		}},
		{"short garbage", func([]byte, string) []byte { return []byte{1, 2, 3} }},
		{"long garbage", func([]byte, string) []byte { return bytes.Repeat([]byte{1}, 4096) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outsider := srv.User("bob@example.com", "staff")
			key := nameOf(outsider)
			store.put(key, tc.entry(store.entry(key).val, outsider))

			var logs logBuffer
			cfg := storeConfig(srv, nil, store)
			cfg.Logger = slogTo(&logs)
			v := newVerifier(t, cfg)
			calls := srv.IdentityRequests()
			id, err := v.Identity(context.Background(), outsider)
			if err != nil {
				t.Fatal(err)
			}
			if id.Email != "bob@example.com" || !slices.Equal(groupNames(id), []string{"staff"}) {
				t.Errorf("identity %s %q: the entry was believed", id.Email, groupNames(id))
			}
			if srv.IdentityRequests() != calls+1 {
				t.Errorf("get-identity calls %d → %d, want one more", calls, srv.IdentityRequests())
			}
			if st := v.Stats().IdentityStore; st.Rejected != 1 || st.Hits != 0 {
				t.Errorf("stats = %+v, want one rejected entry", st)
			}
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "entry rejected") || strings.Contains(out, outsider[:40]) {
				t.Errorf("log:\n%s", out)
			}
			// The answer from Access replaces the bad entry for the fleet.
			waitWrites(t, v, 1)
			if _, err := newVerifier(t, storeConfig(srv, nil, store)).Identity(context.Background(), outsider); err != nil {
				t.Fatal(err)
			}
			if srv.IdentityRequests() != calls+1 {
				t.Errorf("the entry written after a rejection was not used")
			}
		})
	}
}

// TestIdentityStoreExpiry: an entry lives as long as an answer in the identity cache
// (IdentityTTL, never past the token's exp), in the store's own TTL and on read; an entry
// read late has that much less time left in the reader's cache.
func TestIdentityStoreExpiry(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	clk := newClock()
	a := newVerifier(t, storeConfig(srv, clk, store))
	b := newVerifier(t, storeConfig(srv, clk, store))

	// The TTL given to the store: IdentityTTL, or less when the token expires first.
	for _, tc := range []struct {
		exp  time.Duration
		want time.Duration
	}{
		{time.Hour, core.DefaultIdentityTTL},
		{2 * time.Minute, 2 * time.Minute},
	} {
		tok := srv.Mint(accesstest.Token{Email: "ann@example.com", ExpiresAt: clk.Now().Add(tc.exp)})
		before := store.keys()
		if _, err := a.Identity(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the entry", func() bool { return len(store.keys()) == len(before)+1 })
		for _, k := range store.keys() {
			if ttl := store.entry(k).ttl; !slices.Contains(before, k) && (ttl > tc.want || ttl < tc.want-time.Second) {
				t.Errorf("token expiring in %s: store TTL %s, want %s", tc.exp, ttl, tc.want)
			}
		}
	}

	// Read four minutes into its five: one minute left in b's cache.
	tok := srv.User("cy@example.com", "admins")
	if _, err := a.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	waitWrites(t, a, 3)
	clk.Advance(4 * time.Minute)
	if _, err := b.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.IdentityRequests(); n != 3 {
		t.Fatalf("get-identity calls = %d, want 3 (b read the store)", n)
	}
	clk.Advance(61 * time.Second)
	if _, err := b.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.IdentityRequests(); n != 4 {
		t.Errorf("get-identity calls = %d: b kept the entry past its expiry", n)
	}
	// The store still holds the old entry (its TTL runs on the store's clock): the expiry
	// sealed in it refuses it.
	c := newVerifier(t, storeConfig(srv, clk, store))
	tok2 := srv.User("dee@example.com")
	if _, err := a.Identity(context.Background(), tok2); err != nil {
		t.Fatal(err)
	}
	waitWrites(t, a, 4)
	clk.Advance(core.DefaultIdentityTTL)
	if _, err := c.Identity(context.Background(), tok2); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats().IdentityStore; st.Rejected != 1 || st.Hits != 0 || srv.IdentityRequests() != 6 {
		t.Errorf("an expired entry: stats %+v, get-identity calls %d (want 6)", st, srv.IdentityRequests())
	}
}

// TestIdentityStoreFailures: a store that fails, hangs or panics costs a lookup at Access,
// bounded by IdentityStoreTimeout: never a refusal, never an allow, and writes never hold
// the request.
func TestIdentityStoreFailures(t *testing.T) {
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	for _, tc := range []struct {
		name     string
		get, set *storeFault
	}{
		{"get fails", &storeFault{err: errors.New("connection refused")}, nil},
		{"get hangs, ignoring its context", &storeFault{block: never}, nil},
		{"get panics", &storeFault{panics: true}, nil},
		{"get returns more than MaxIdentityStoreValueSize", &storeFault{garbage: make([]byte, core.MaxIdentityStoreValueSize+1)}, nil},
		{"set fails", nil, &storeFault{err: errors.New("READONLY")}},
		{"set hangs, ignoring its context", nil, &storeFault{block: never}},
		{"both hang", &storeFault{block: never}, &storeFault{block: never}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			store := newMemStore()
			store.getFault.Store(tc.get)
			store.setFault.Store(tc.set)
			var logs logBuffer
			cfg := storeConfig(srv, nil, store)
			cfg.Logger = slogTo(&logs)
			cfg.IdentityStoreTimeout = 30 * time.Millisecond
			v := newVerifier(t, cfg)
			member := srv.User("ann@example.com", "admins")

			// A lookup that waited for the store would give up here instead.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			id, err := v.Identity(ctx, member)
			if err != nil || !slices.Equal(groupNames(id), []string{"admins"}) {
				t.Fatalf("identity %v, err %v: the store's failure decided", id, err)
			}
			// The read's timeout, and a loopback get-identity call; never a hanging store's time.
			if took := time.Since(start); took > time.Second {
				t.Errorf("the lookup took %s", took)
			}
			st := v.Stats().IdentityStore
			if tc.get != nil && (st.Errors != 1 || st.Hits+st.Misses != 0) {
				t.Errorf("stats = %+v, want one read error", st)
			}
			if tc.set != nil {
				eventually(t, "the write error", func() bool { return v.Stats().IdentityStore.WriteErrors == 1 })
			}
			if srv.IdentityRequests() != 1 {
				t.Errorf("get-identity calls = %d", srv.IdentityRequests())
			}
			failing := "identity store reads failing"
			if tc.get == nil {
				failing = "identity store writes failing"
			}
			if out := logs.String(); strings.Count(out, failing) != 1 || strings.Contains(out, member[:40]) {
				t.Errorf("log:\n%s", out)
			}

			// Access down too: 503, as without a store.
			srv.FailIdentity(accesstest.Status500)
			_, err = v.Identity(context.Background(), srv.User("bob@example.com", "admins"))
			wantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
			if out := logs.String(); strings.Count(out, failing) != 1 {
				t.Errorf("a failing store logged more than once:\n%s", out)
			}

			// The store heals: logged once, and used again.
			srv.FailIdentity(accesstest.Healthy)
			store.getFault.Store(nil)
			store.setFault.Store(nil)
			if _, err := v.Identity(context.Background(), srv.User("cy@example.com")); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the recovery logged", func() bool {
				return strings.Contains(logs.String(), strings.TrimSuffix(failing, "failing")+"succeed again")
			})
		})
	}
}

// TestIdentityStoreOnlyForVerifiedTokens: the store is never a source of authentication: a
// token that fails verification, or a service token (which has no identity), never reaches it.
func TestIdentityStoreOnlyForVerifiedTokens(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	v := newVerifier(t, storeConfig(srv, nil, store))
	member := srv.User("ann@example.com", "admins")
	for name, tok := range map[string]string{
		"forged":        member[:strings.LastIndexByte(member, '.')] + ".c2lnbmF0dXJl",
		"expired":       srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour)}),
		"other app":     srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"another-app"}}),
		"service token": srv.ServiceToken(""),
		"empty":         "",
	} {
		if _, err := v.Identity(context.Background(), tok); err == nil {
			t.Errorf("%s: identity without an error", name)
		}
	}
	if store.gets.Load() != 0 || store.sets.Load() != 0 {
		t.Errorf("the store was used %d+%d times for tokens that did not verify", store.gets.Load(), store.sets.Load())
	}
}

// TestIdentityStoreSharesNoFailure: a failed lookup is remembered by its instance only; the
// fleet's other instances ask Access themselves.
func TestIdentityStoreSharesNoFailure(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	a := newVerifier(t, storeConfig(srv, nil, store))
	b := newVerifier(t, storeConfig(srv, nil, store))
	tok := srv.User("ann@example.com", "admins")
	srv.FailIdentity(accesstest.Status500)
	_, err := a.Identity(context.Background(), tok)
	wantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
	srv.FailIdentity(accesstest.Healthy)
	if _, err := b.Identity(context.Background(), tok); err != nil {
		t.Fatalf("b: %v", err)
	}
	if a.Stats().IdentityStore.Writes != 0 || store.sets.Load() > 1 {
		t.Errorf("a failure was written: %+v, %d sets", a.Stats().IdentityStore, store.sets.Load())
	}
}

// TestIdentityStoreConcurrent: two instances and many requests of several tokens at once,
// under -race: every answer right, one call per token per instance at most.
func TestIdentityStoreConcurrent(t *testing.T) {
	srv := newServer(t)
	store := newMemStore()
	vs := []*core.Verifier{newVerifier(t, storeConfig(srv, nil, store)), newVerifier(t, storeConfig(srv, nil, store))}
	var tokens []string
	for i := range 8 {
		tokens = append(tokens, srv.User(fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("g%d", i)))
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 40 {
				n := (w + i) % len(tokens)
				id, err := vs[(w+i/3)%2].Identity(context.Background(), tokens[n])
				if err != nil || id.Email != fmt.Sprintf("u%d@example.com", n) || !slices.Equal(groupNames(id), []string{fmt.Sprintf("g%d", n)}) {
					t.Errorf("token %d: %v, %v", n, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := srv.IdentityRequests(); n < len(tokens) || n > 2*len(tokens) {
		t.Errorf("get-identity calls = %d for %d tokens on two instances", n, len(tokens))
	}
}

func TestIdentityStoreConfig(t *testing.T) {
	srv := newServer(t)
	var nilStore *memStore
	for _, tc := range []struct {
		name string
		edit func(*core.Config)
		want string
	}{
		{"key without store", func(c *core.Config) { c.IdentityStore = nil }, "IdentityStoreKey is set without an IdentityStore"},
		{"store without key", func(c *core.Config) { c.IdentityStoreKey = nil }, "IdentityStore needs IdentityStoreKey"},
		{"empty key", func(c *core.Config) { c.IdentityStoreKey = []byte{} }, "IdentityStoreKey is 0 bytes"},
		{"short key", func(c *core.Config) { c.IdentityStoreKey = storeKey[:31] }, "IdentityStoreKey is 31 bytes; it must be at least 32"},
		{"negative timeout", func(c *core.Config) { c.IdentityStoreTimeout = -time.Second }, "IdentityStoreTimeout is negative"},
		{"negative timeout, no store", func(c *core.Config) {
			c.IdentityStore, c.IdentityStoreKey, c.IdentityStoreTimeout = nil, nil, -time.Second
		}, "IdentityStoreTimeout is negative"},
		{"nil store of a type", func(c *core.Config) { c.IdentityStore = nilStore }, "IdentityStore is a nil *core_test.memStore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := storeConfig(srv, nil, newMemStore())
			tc.edit(&cfg)
			_, err := core.NewVerifier(cfg)
			if !errors.Is(err, core.ErrConfig) || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("err = %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
	cfg := storeConfig(srv, nil, newMemStore())
	cfg.IdentityStoreKey = bytes.Repeat([]byte{1}, 64)
	if _, err := core.NewVerifier(cfg); err != nil {
		t.Errorf("a 64-byte key: %v", err)
	}
}
