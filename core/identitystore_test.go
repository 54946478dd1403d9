package core_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
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
var storeKey = bytes.Repeat([]byte{0x5c}, core.MinStoreKeySize)

// storeConfig is srv's test configuration with store as its shared identity store. Its
// timeout is long, so that a store in memory answers in time however loaded the machine is:
// tests of the timeout set their own.
func storeConfig(srv *accesstest.Server, clk *testkit.Clock, store core.IdentityStore) core.Config {
	cfg := testkit.Config(srv, clk)
	cfg.Identities.Shared = &core.SharedStore{Store: store, Key: storeKey, Timeout: time.Minute}
	return cfg
}

// withStore starts a team domain with opts and a verifier of it whose shared store is a
// memStore; storeConfig(srv, nil, store) makes more verifiers that share it.
func withStore(t *testing.T, opts ...accesstest.Option) (*accesstest.Server, *memStore, *core.Verifier) {
	t.Helper()
	srv := testkit.NewTeam(t, opts...)
	store := newMemStore()
	return srv, store, testkit.NewVerifier(t, storeConfig(srv, nil, store))
}

// stored looks up tok's identity through v and waits until v has written n entries to its
// store.
func stored(t *testing.T, v *core.Verifier, tok string, n uint64) *core.Identity {
	t.Helper()
	id, err := v.Identity(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	waitWrites(t, v, n)
	return id
}

// waitWrites waits until v has written n entries to its store.
func waitWrites(t *testing.T, v *core.Verifier, n uint64) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d store writes", n), func() bool { return v.Stats().IdentityStore.Writes >= n })
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
	srv, store, a := withStore(t)
	b := testkit.NewVerifier(t, storeConfig(srv, nil, store))
	tok := srv.User("ann@example.com", "admins", "staff")

	first := stored(t, a, tok, 1)
	second, err := b.Identity(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("get-identity called %d times for one token on two instances, want 1", n)
	}
	if !sameIdentity(second, first) || second.Email != "ann@example.com" ||
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
	if st := testkit.Verifier(t, srv).Stats().IdentityStore; st != (core.StoreStats{}) {
		t.Errorf("stats without a store = %+v", st)
	}
}

// sameIdentity reports whether a and b are equal in every field, an empty list or raw field
// being equal to none.
func sameIdentity(a, b *core.Identity) bool {
	norm := func(id core.Identity) core.Identity {
		if len(id.Groups) == 0 {
			id.Groups = nil
		}
		if len(id.AMR) == 0 {
			id.AMR = nil
		}
		for _, r := range []*json.RawMessage{&id.Custom, &id.DevicePosture, &id.DeviceSessions,
			&id.OIDCFields, &id.SAMLAttributes, &id.MTLSAuth, &id.Raw} {
			if len(*r) == 0 {
				*r = nil
			}
		}
		return id
	}
	return reflect.DeepEqual(norm(*a), norm(*b))
}

// TestIdentityStoreKeepsEveryShape: what an instance reads from the store is, field for
// field, what get-identity told the instance that wrote it, for every identity provider's
// shape of document, with device posture and attributes.
func TestIdentityStoreKeepsEveryShape(t *testing.T) {
	for _, idp := range accesstest.IdPs() {
		t.Run(string(idp), func(t *testing.T) {
			srv, store, a := withStore(t, accesstest.WithIdP(idp))
			b := testkit.NewVerifier(t, storeConfig(srv, nil, store))
			tok := srv.Mint(accesstest.Token{
				Email:      "ann@example.com",
				Groups:     []string{"admins", "staff"},
				Attributes: map[string]any{"department": "Engineering"},
				Identity: map[string]any{
					"devicePosture": map[string]any{"f3b1c2d4-disk": map[string]any{"success": true, "type": "disk_encryption"}},
					"is_warp":       true,
				},
			})
			first := stored(t, a, tok, 1)
			second, err := b.Identity(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if b.Stats().IdentityStore.Hits != 1 || srv.IdentityRequests() != 1 {
				t.Fatalf("b did not read the store: %+v", b.Stats().IdentityStore)
			}
			if !sameIdentity(second, first) || len(first.DevicePosture) == 0 || !first.IsWarp {
				t.Errorf("from the store: %+v\nfrom Access: %+v", second, first)
			}
		})
	}
}

// TestIdentityStoreEntryIsOpaque: an entry is named by a keyed hash and its value sealed:
// neither holds the token, a hash of it, or the identity, and the name of a token's entry
// depends on the key.
func TestIdentityStoreEntryIsOpaque(t *testing.T) {
	srv, store, v := withStore(t)
	tok := srv.User("ann@example.com", "admins")
	stored(t, v, tok, 1)
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
	cfg.Identities.Shared.Key = bytes.Repeat([]byte{0xa7}, 48)
	w := testkit.NewVerifier(t, cfg)
	stored(t, w, tok, 1)
	if k := other.keys(); len(k) != 1 || k[0] == keys[0] {
		t.Errorf("names under two keys: %q and %q", keys, k)
	}
	// Two tokens of one user have two entries.
	stored(t, v, srv.User("ann@example.com", "admins"), 2)
	if k := store.keys(); len(k) != 2 {
		t.Errorf("two tokens: entries %q", k)
	}
}

// TestIdentityStoreRejectsEntries: whoever can write to the store cannot grant a group: an
// entry that was tampered with, sealed under another key, moved from another token's name
// or is garbage is ignored, counted, logged without the token, and the lookup goes to
// Access, whose answer holds.
func TestIdentityStoreRejectsEntries(t *testing.T) {
	srv, store, writer := withStore(t)
	admin := srv.User("root@example.com", "admins")
	stored(t, writer, admin, 1)
	adminEntry := store.entry(store.keys()[0]).val

	// The name the store gives an outsider's token, learnt from a write.
	nameOf := func(tok string) string {
		before := store.keys()
		v := testkit.NewVerifier(t, storeConfig(srv, nil, store))
		stored(t, v, tok, 1)
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
		cfg.Identities.Shared.Key = bytes.Repeat([]byte{0x01}, 32)
		v := testkit.NewVerifier(t, cfg)
		stored(t, v, tok, 1)
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
		{"format 1", func(own []byte, _ string) []byte { b := bytes.Clone(own); b[0] = 1; return b }},
		{"an entry of format 1", func([]byte, string) []byte {
			// version, salt, nonce, ciphertext and tag, of the first format's sizes
			return append([]byte{1}, bytes.Repeat([]byte{0x3c}, 16+12+8+300+16)...)
		}},
		{"nonce flipped", func(own []byte, _ string) []byte { return flip(own, 5) }},
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

			var logs testkit.LogBuffer
			cfg := storeConfig(srv, nil, store)
			cfg.Logger = testkit.DebugLogger(&logs)
			v := testkit.NewVerifier(t, cfg)
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
			if _, err := testkit.NewVerifier(t, storeConfig(srv, nil, store)).Identity(context.Background(), outsider); err != nil {
				t.Fatal(err)
			}
			if srv.IdentityRequests() != calls+1 {
				t.Errorf("the entry written after a rejection was not used")
			}
		})
	}
}

// TestIdentityStoreExpiry: an entry lives as long as an answer in the identity cache
// (Identities.TTL, never past the token's exp), in the store's own TTL and on read; an entry
// read late has that much less time left in the reader's cache.
func TestIdentityStoreExpiry(t *testing.T) {
	srv := testkit.NewTeam(t)
	store := newMemStore()
	clk := testkit.NewClock()
	a := testkit.NewVerifier(t, storeConfig(srv, clk, store))
	b := testkit.NewVerifier(t, storeConfig(srv, clk, store))

	// The TTL given to the store: Identities.TTL, or less when the token expires first.
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
		testkit.Eventually(t, "the entry", func() bool { return len(store.keys()) == len(before)+1 })
		for _, k := range store.keys() {
			if ttl := store.entry(k).ttl; !slices.Contains(before, k) && (ttl > tc.want || ttl < tc.want-time.Second) {
				t.Errorf("token expiring in %s: store TTL %s, want %s", tc.exp, ttl, tc.want)
			}
		}
	}

	// Read four minutes into its five: one minute left in b's cache.
	tok := srv.User("cy@example.com", "admins")
	stored(t, a, tok, 3)
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
	c := testkit.NewVerifier(t, storeConfig(srv, clk, store))
	tok2 := srv.User("dee@example.com")
	stored(t, a, tok2, 4)
	clk.Advance(core.DefaultIdentityTTL)
	if _, err := c.Identity(context.Background(), tok2); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats().IdentityStore; st.Rejected != 1 || st.Hits != 0 || srv.IdentityRequests() != 6 {
		t.Errorf("an expired entry: stats %+v, get-identity calls %d (want 6)", st, srv.IdentityRequests())
	}
}

// What a store that fails may cost.
const (
	tripAfter   = 3  // failures in a row of reads, or of writes, that open their breaker
	maxInFlight = 64 // store operations under way at most, reads and writes together
)

// lookupAs looks up the identity of a new token of user, a member of group, on v, and fails
// t unless Access's answer comes back: never a refusal, nor what a store made up. The lookup
// may take a minute: one that waited for a store that hangs would give up then instead, with
// an error, where the store's timeout and a loopback get-identity call take far less.
func lookupAs(t *testing.T, v *core.Verifier, srv *accesstest.Server, user, group string) string {
	t.Helper()
	tok := srv.User(user, group)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := v.Identity(ctx, tok)
	if err != nil || id.Email != user || !slices.Equal(groupNames(id), []string{group}) {
		t.Fatalf("identity of %s: %+v, err %v: the store decided", user, id, err)
	}
	return tok
}

// logLines returns the lines of out that contain msg.
func logLines(out, msg string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, msg) {
			lines = append(lines, line)
		}
	}
	return lines
}

// wantLogged fails t unless out holds one line saying msg, at level.
func wantLogged(t *testing.T, out, msg, level string) {
	t.Helper()
	lines := logLines(out, msg)
	if len(lines) != 1 || !strings.Contains(lines[0], "level="+level) {
		t.Errorf("want one %s line saying %q; log:\n%s", level, msg, out)
	}
}

// TestIdentityStoreFailures: a store that fails, hangs, panics or answers too much costs a
// lookup at Access, bounded by Identities.Shared.Timeout: never a refusal, never an allow, and
// writes never hold the request. Three failures in a row of reads, or of writes, open their
// breaker, which logs it once: then that kind of operation skips the store, the other kind
// going on, until one probes it after storeOpenFor; its success closes the breaker, logged
// once too.
func TestIdentityStoreFailures(t *testing.T) {
	// Long enough for a store in memory to answer under any load, when it does.
	const timeout = 500 * time.Millisecond
	// Longer than a read and a write that time out, one after the other, so that the breaker
	// is seen open: its checks are made only when they end within openFor of the lookup
	// whose failure opened it.
	const openFor = 2 * time.Second
	t.Cleanup(core.SetStoreOpenFor(openFor))
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
		{"set panics", nil, &storeFault{panics: true}},
		{"both hang", &storeFault{block: never}, &storeFault{block: never}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewTeam(t)
			store := newMemStore()
			store.getFault.Store(tc.get)
			store.setFault.Store(tc.set)
			var logs testkit.LogBuffer
			cfg := storeConfig(srv, nil, store)
			cfg.Logger = testkit.DebugLogger(&logs)
			cfg.Identities.Shared.Timeout = timeout
			v := testkit.NewVerifier(t, cfg)
			reads, writes := tc.get != nil, tc.set != nil
			stats := func() core.StoreStats { return v.Stats().IdentityStore }
			var failing []string
			if reads {
				failing = append(failing, "identity store reads failing")
			}
			if writes {
				failing = append(failing, "identity store writes failing")
			}
			var tokens []string
			lookup := func(i int) {
				t.Helper()
				tokens = append(tokens, lookupAs(t, v, srv, fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("g%d", i)))
			}

			// Three failures in a row; the first logs nothing, the third opens the breaker.
			var opened time.Time
			for i := 1; i <= tripAfter; i++ {
				if i == tripAfter {
					opened = time.Now() // the breaker opens after this
				}
				lookup(i)
				n := uint64(i)
				if writes {
					testkit.Eventually(t, "the write error", func() bool { return stats().WriteErrors == n })
				} else {
					testkit.Eventually(t, "the write", func() bool { return stats().Writes == n })
				}
				st := stats()
				if reads && (st.Errors != n || st.Hits+st.Misses != 0) || !reads && (st.Misses != n || st.Errors != 0) {
					t.Errorf("after %d lookups: stats %+v", i, st)
				}
				if out := logs.String(); i == 1 && strings.Contains(out, "identity store") {
					t.Errorf("the first failure logged:\n%s", out)
				}
				if out := logs.String(); i < tripAfter && strings.Contains(out, "failing") {
					t.Errorf("%d failures opened the breaker:\n%s", i, out)
				}
			}
			for _, msg := range failing {
				wantLogged(t, logs.String(), msg, "WARN")
			}

			// The breaker is open: that kind of operation skips the store, the other goes on.
			gets, sets, before := store.gets.Load(), store.sets.Load(), stats()
			lookup(4)
			var skips uint64
			if reads {
				skips++
			}
			if writes {
				skips++
			} else {
				testkit.Eventually(t, "the write", func() bool { return stats().Writes == before.Writes+1 })
			}
			// Skipped, or, on a machine so slow that the breaker let one probe the store again,
			// failed.
			testkit.Eventually(t, "the skipped operations", func() bool {
				st := stats()
				return st.Skipped+st.Errors+st.WriteErrors == before.Skipped+before.Errors+before.WriteErrors+skips
			})
			// Access down too: 503, as without a store, and the store still skipped.
			srv.FailIdentity(accesstest.Status500)
			_, err := v.Identity(context.Background(), srv.User("down@example.com", "g"))
			testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
			srv.FailIdentity(accesstest.Healthy)
			if reads {
				skips++
			}
			gotGets, gotSets, st := store.gets.Load(), store.sets.Load(), stats()
			if time.Since(opened) < openFor { // else the breaker may have probed the store already
				wantGets, wantSets := gets, sets
				if !reads {
					wantGets += 2
				}
				if !writes {
					wantSets++
				}
				if gotGets != wantGets || gotSets != wantSets || st.Skipped != before.Skipped+skips {
					t.Errorf("with the breaker open: %d → %d gets (want %d), %d → %d sets (want %d), stats %+v",
						gets, gotGets, wantGets, sets, gotSets, wantSets, st)
				}
				if st.Errors != before.Errors || st.WriteErrors != before.WriteErrors {
					t.Errorf("an open breaker let a failure through: %+v, before %+v", st, before)
				}
			} else {
				t.Logf("the machine took %s, longer than the breaker stays open: its open state went unchecked", time.Since(opened))
			}
			for _, msg := range failing {
				wantLogged(t, logs.String(), msg, "WARN") // still once
			}

			// The store heals: after openFor an operation probes it, its success closes the
			// breaker, logged once, and the store is used again.
			store.getFault.Store(nil)
			store.setFault.Store(nil)
			time.Sleep(openFor + 10*time.Millisecond) // every failure has ended: any breaker open has expired after this
			healed := stats()
			gets, sets = store.gets.Load(), store.sets.Load()
			for i := range uint64(3) {
				lookup(5 + int(i))
				// One write at a time: a write while the probe is under way would be skipped.
				testkit.Eventually(t, "the write", func() bool { return stats().Writes == healed.Writes+i+1 })
			}
			if st := stats(); store.gets.Load() != gets+3 || store.sets.Load() != sets+3 ||
				st.Misses != healed.Misses+3 || st.Skipped != healed.Skipped || st.Errors != healed.Errors || st.WriteErrors != healed.WriteErrors {
				t.Errorf("after the store healed: %d → %d gets, %d → %d sets, stats %+v, before %+v",
					gets, store.gets.Load(), sets, store.sets.Load(), st, healed)
			}
			out := logs.String()
			for _, msg := range failing {
				wantLogged(t, out, msg, "WARN")
				wantLogged(t, out, strings.TrimSuffix(msg, "failing")+"succeed again", "INFO")
			}
			if !reads && strings.Contains(out, "identity store reads") || !writes && strings.Contains(out, "identity store writes") {
				t.Errorf("a breaker that had no failure logged:\n%s", out)
			}
			for _, tok := range tokens {
				if strings.Contains(out, tok[len(tok)-40:]) {
					t.Errorf("the log shows a token:\n%s", out)
				}
			}
			// Another instance reads what this one wrote after the store healed.
			w := testkit.NewVerifier(t, storeConfig(srv, nil, store))
			calls := srv.IdentityRequests()
			lookupAsToken(t, w, tokens[len(tokens)-1], "u7@example.com", "g7")
			if srv.IdentityRequests() != calls || w.Stats().IdentityStore.Hits != 1 {
				t.Errorf("the entry written after the store healed was not read: %+v", w.Stats().IdentityStore)
			}
		})
	}
}

// lookupAsToken looks up tok's identity on v and fails t unless it is user's, a member of group.
func lookupAsToken(t *testing.T, v *core.Verifier, tok, user, group string) {
	t.Helper()
	id, err := v.Identity(context.Background(), tok)
	if err != nil || id.Email != user || !slices.Equal(groupNames(id), []string{group}) {
		t.Fatalf("identity of %s: %+v, err %v", user, id, err)
	}
}

// TestIdentityStoreBoundsOperationsInFlight: a store that hangs, ignoring its context, holds
// a goroutine per operation under way, until it answers; past maxInFlight of them, operations
// skip the store, and every lookup is answered from Access all the same. An operation that
// timed out keeps its slot while its goroutine waits for the store: the writes that follow the
// reads, which have a breaker of their own, find no slot either.
func TestIdentityStoreBoundsOperationsInFlight(t *testing.T) {
	// The breakers, which would skip the store too, must not open before every lookup has
	// reached it: no read times out before all have started (they start together, their
	// tokens verified and cached), and once open a breaker stays so.
	t.Cleanup(core.SetStoreOpenFor(time.Hour))
	srv := testkit.NewTeam(t)
	store := newMemStore()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	store.getFault.Store(&storeFault{block: block})
	store.setFault.Store(&storeFault{block: block})
	// The verifier's own connections, closed before goroutines are counted, so that those
	// the store holds are what remains.
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	cfg := storeConfig(srv, nil, store)
	cfg.HTTPClient = &http.Client{Transport: transport}
	cfg.Identities.Shared.Timeout = 2 * time.Second
	v := testkit.NewVerifier(t, cfg)

	const lookups = 200
	tokens := make([]string, lookups)
	for i := range tokens {
		tokens[i] = srv.User(fmt.Sprintf("u%d@example.com", i), "staff")
		mustVerify(t, v, tokens[i], "")
	}
	transport.CloseIdleConnections()
	goroutines := runtime.NumGoroutine()

	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id, err := v.Identity(ctx, tok)
			if err != nil || id.Email != fmt.Sprintf("u%d@example.com", i) || !slices.Equal(groupNames(id), []string{"staff"}) {
				t.Errorf("lookup %d: %+v, %v", i, id, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := srv.IdentityRequests(); n != lookups {
		t.Errorf("get-identity calls = %d, want %d", n, lookups)
	}
	// Every operation timed out or was skipped, and each that timed out reached the store.
	testkit.Eventually(t, "every operation accounted for", func() bool {
		st := v.Stats().IdentityStore
		return st.Errors+st.Skipped+st.Writes+st.WriteErrors == 2*lookups &&
			uint64(store.gets.Load()+store.sets.Load()) == st.Errors+st.WriteErrors
	})
	st := v.Stats().IdentityStore
	if gets, sets := store.gets.Load(), store.sets.Load(); gets+sets > maxInFlight || gets != maxInFlight ||
		st.Skipped != 2*lookups-maxInFlight || st.Hits+st.Misses+st.Rejected+st.Writes != 0 {
		t.Errorf("the store saw %d reads and %d writes, want the %d reads the bound lets through; stats %+v", gets, sets, maxInFlight, st)
	}
	transport.CloseIdleConnections()
	const slack = 16 // goroutines of the test's server and runtime that come and go
	deadline := time.Now().Add(10 * time.Second)
	for n := runtime.NumGoroutine() - goroutines; n > maxInFlight+slack; n = runtime.NumGoroutine() - goroutines {
		if time.Now().After(deadline) {
			t.Fatalf("%d more goroutines after the lookups, want at most %d", n, maxInFlight+slack)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIdentityStoreSkipsHoldNoSlot: an operation that the open breaker skips gives its slot
// back, so that however many are skipped while the store is down, the store is used again
// once it heals, rather than skipped for good by the bound on operations under way.
func TestIdentityStoreSkipsHoldNoSlot(t *testing.T) {
	const openFor = time.Second
	t.Cleanup(core.SetStoreOpenFor(openFor))
	srv := testkit.NewTeam(t)
	store := newMemStore()
	store.getFault.Store(&storeFault{err: errors.New("connection refused")})
	cfg := storeConfig(srv, nil, store)
	v := testkit.NewVerifier(t, cfg)
	for i := range tripAfter + 2*maxInFlight {
		lookupAs(t, v, srv, fmt.Sprintf("u%d@example.com", i), "staff")
	}
	if st := v.Stats().IdentityStore; st.Skipped < maxInFlight {
		t.Fatalf("stats %+v: want more reads skipped than there are slots", st)
	}
	store.getFault.Store(nil)
	time.Sleep(openFor + 10*time.Millisecond) // the breaker, opened by the last failure at the latest, has expired
	before, gets := v.Stats().IdentityStore, store.gets.Load()
	lookupAs(t, v, srv, "healed@example.com", "staff")
	if st := v.Stats().IdentityStore; store.gets.Load() != gets+1 || st.Misses != before.Misses+1 {
		t.Errorf("the healed store was not read: %d → %d reads, stats %+v", gets, store.gets.Load(), st)
	}
	waitWrites(t, v, uint64(tripAfter+2*maxInFlight+1))
}

// TestIdentityStoreReadersEnforceTheirTTL: how stale an answer may get is each reader's
// Identities.TTL, whatever the writer's: an entry is used until the earliest of its sealed
// expiry, the token's exp and its fetch plus the reader's TTL, and one fetched longer ago than
// the reader's TTL is rejected, quietly (no sign of an attack), and looked up at Access.
func TestIdentityStoreReadersEnforceTheirTTL(t *testing.T) {
	srv := testkit.NewTeam(t)
	fetched := testkit.NewClock()
	store := newMemStore()
	instance := func(store core.IdentityStore, clk *testkit.Clock, ttl time.Duration, logs *testkit.LogBuffer) *core.Verifier {
		cfg := storeConfig(srv, clk, store)
		cfg.Identities.TTL = ttl
		if logs != nil {
			cfg.Logger = testkit.DebugLogger(logs)
		}
		return testkit.NewVerifier(t, cfg)
	}
	a := instance(store, fetched, 10*time.Minute, nil)
	tok := srv.User("ann@example.com", "admins")
	lookupAsToken(t, a, tok, "ann@example.com", "admins")
	waitWrites(t, a, 1)
	key := store.keys()[0]
	// Each reader has a store of its own holding a's entry, and a clock of its own, at
	// fetched plus since.
	reader := func(ttl, since time.Duration, logs *testkit.LogBuffer) (*core.Verifier, *testkit.Clock) {
		s := newMemStore()
		s.put(key, bytes.Clone(store.entry(key).val))
		clk := testkit.NewClock()
		clk.Set(fetched.Now().Add(since))
		return instance(s, clk, ttl, logs), clk
	}
	calls := srv.IdentityRequests()
	lookup := func(v *core.Verifier, what string, wantCalls int) {
		t.Helper()
		lookupAsToken(t, v, tok, "ann@example.com", "admins")
		if got := srv.IdentityRequests() - calls; got != wantCalls {
			t.Errorf("%s: %d get-identity calls, want %d", what, got, wantCalls)
		}
	}

	// A minute's TTL: two minutes old is too stale.
	var logs testkit.LogBuffer
	b, _ := reader(time.Minute, 2*time.Minute, &logs)
	lookup(b, "TTL 1m, 2m after the fetch", 1)
	if st := b.Stats().IdentityStore; st.Rejected != 1 || st.Hits != 0 {
		t.Errorf("TTL 1m, 2m after the fetch: stats %+v, want the entry rejected", st)
	}
	if out := logs.String(); strings.Contains(out, "rejected") || strings.Contains(out, "level=WARN") {
		t.Errorf("a stale entry was logged as an attack:\n%s", out)
	}

	// The writer's ten minutes: read, and kept until ten minutes after the fetch, when the
	// entry has expired. Five minutes: read two minutes after the fetch, kept until five
	// minutes after the fetch, not five after the read, nor until the entry's sealed expiry.
	for _, ttl := range []time.Duration{10 * time.Minute, 5 * time.Minute} {
		calls = srv.IdentityRequests()
		v, clk := reader(ttl, 2*time.Minute, nil)
		lookup(v, fmt.Sprintf("TTL %v, 2m after the fetch", ttl), 0)
		clk.Set(fetched.Now().Add(ttl - time.Second))
		lookup(v, fmt.Sprintf("TTL %v, %v after the fetch", ttl, ttl-time.Second), 0)
		clk.Set(fetched.Now().Add(ttl + time.Second))
		lookup(v, fmt.Sprintf("TTL %v, %v after the fetch", ttl, ttl+time.Second), 1)
		if st := v.Stats().IdentityStore; st.Hits != 1 || st.Rejected != 1 {
			t.Errorf("TTL %v: stats %+v, want one hit, then the entry rejected", ttl, st)
		}
	}
}

// TestIdentityStoreRejectionsLogRarely: a store full of entries that do not open, whether
// broken or forged, logs a warning at most once a minute, not once per lookup, and never a
// token; the store still answers, so its breaker stays closed.
func TestIdentityStoreRejectionsLogRarely(t *testing.T) {
	srv := testkit.NewTeam(t)
	store := newMemStore()
	store.getFault.Store(&storeFault{garbage: append([]byte{2}, bytes.Repeat([]byte{0xa5}, 200)...)})
	var logs testkit.LogBuffer
	cfg := storeConfig(srv, nil, store)
	cfg.Logger = testkit.DebugLogger(&logs)
	v := testkit.NewVerifier(t, cfg)
	const lookups = 50
	var tokens []string
	for i := range lookups {
		tokens = append(tokens, lookupAs(t, v, srv, fmt.Sprintf("u%d@example.com", i), "staff"))
	}
	waitWrites(t, v, lookups)
	if st := v.Stats().IdentityStore; st.Rejected != lookups || st.Hits+st.Errors+st.Skipped != 0 || store.gets.Load() != lookups {
		t.Errorf("stats %+v, %d reads: want %d entries rejected, none skipped", st, store.gets.Load(), lookups)
	}
	out := logs.String()
	wantLogged(t, out, "entry rejected", "WARN")
	if strings.Contains(out, "failing") {
		t.Errorf("entries that do not open opened the breaker:\n%s", out)
	}
	for _, tok := range tokens {
		if strings.Contains(out, tok[len(tok)-40:]) {
			t.Errorf("the log shows a token:\n%s", out)
		}
	}
}

// TestIdentityStoreOnlyForVerifiedTokens: the store is never a source of authentication: a
// token that fails verification, or a service token (which has no identity), never reaches it.
func TestIdentityStoreOnlyForVerifiedTokens(t *testing.T) {
	srv, store, v := withStore(t)
	member := srv.User("ann@example.com", "admins")
	for name, tok := range map[string]string{
		"forged": member[:strings.LastIndexByte(member, '.')] + ".c2lnbmF0dXJl",
		"expired": srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour),
			ExpiresAt: time.Now().Add(-2 * time.Hour)}),
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
	srv, store, a := withStore(t)
	b := testkit.NewVerifier(t, storeConfig(srv, nil, store))
	tok := srv.User("ann@example.com", "admins")
	srv.FailIdentity(accesstest.Status500)
	_, err := a.Identity(context.Background(), tok)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
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
	srv := testkit.NewTeam(t)
	store := newMemStore()
	vs := []*core.Verifier{testkit.NewVerifier(t, storeConfig(srv, nil, store)), testkit.NewVerifier(t, storeConfig(srv, nil, store))}
	testkit.FleetLookups(t, srv, vs, 8)
}

func TestIdentityStoreConfig(t *testing.T) {
	srv := testkit.NewTeam(t)
	var nilStore *memStore
	for _, tc := range []struct {
		name string
		edit func(*core.SharedStore)
		want string
	}{
		{"key without store", func(s *core.SharedStore) { s.Store = nil }, "Identities.Shared has no Store"},
		{"store without key", func(s *core.SharedStore) { s.Key = nil }, "Identities.Shared needs a Key"},
		{"empty key", func(s *core.SharedStore) { s.Key = []byte{} }, "Identities.Shared.Key: the key is 0 bytes"},
		{"short key", func(s *core.SharedStore) { s.Key = storeKey[:31] }, "Identities.Shared.Key: the key is 31 bytes; it must be at least 32"},
		{"negative timeout", func(s *core.SharedStore) { s.Timeout = -time.Second }, "Identities.Shared.Timeout is negative"},
		{"timeout None", func(s *core.SharedStore) { s.Timeout = core.None }, "Identities.Shared.Timeout cannot be None"},
		{"negative timeout, no store", func(s *core.SharedStore) {
			s.Store, s.Key, s.Timeout = nil, nil, -time.Second
		}, "Identities.Shared.Timeout is negative"},
		{"nil store of a type", func(s *core.SharedStore) { s.Store = nilStore }, "Identities.Shared.Store is a nil *core_test.memStore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := storeConfig(srv, nil, newMemStore())
			tc.edit(cfg.Identities.Shared)
			_, err := core.NewVerifier(cfg)
			if !errors.Is(err, core.ErrConfig) || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("err = %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
	cfg := storeConfig(srv, nil, newMemStore())
	cfg.Identities.Shared.Key = bytes.Repeat([]byte{1}, 64)
	cfg.Identities.Shared.Timeout = 0 // the default
	if _, err := core.NewVerifier(cfg); err != nil {
		t.Errorf("a 64-byte key: %v", err)
	}
}
