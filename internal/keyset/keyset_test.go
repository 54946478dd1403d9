package keyset_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/keyset"
	"github.com/cfaccess/cfaccess/internal/testkit"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

var b64 = base64.RawURLEncoding

// testKeys are three RSA keys of 2048 bits, the same for every test.
func testKeys(t testing.TB) [3]*rsa.PrivateKey {
	t.Helper()
	return [3]*rsa.PrivateKey{rs256.Key(t, 0), rs256.Key(t, 1), rs256.Key(t, 2)}
}

// jwk is the JSON Web Key of pub under kid, with extra members (alg, use) over the defaults.
func jwk(kid string, pub *rsa.PublicKey, extra map[string]any) map[string]any {
	m := rs256.JWK(kid, pub)
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// doc is a certs document listing keys, as Access serves it.
func doc(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys, "public_cert": map[string]string{"kid": "x", "cert": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	k := testKeys(t)
	keys, ambiguous, err := keyset.Parse(doc(t, jwk("a", &k[0].PublicKey, nil), jwk("b", &k[1].PublicKey, map[string]any{"alg": nil, "use": nil})))
	if err != nil || len(ambiguous) != 0 {
		t.Fatalf("Parse: %v, ambiguous %q", err, ambiguous)
	}
	if len(keys) != 2 || keys["a"].KID != "a" || !keys["a"].Public.Equal(&k[0].PublicKey) || !keys["b"].Public.Equal(&k[1].PublicKey) {
		t.Fatalf("keys %v", keys)
	}
	if keys["a"].Withdrawn() {
		t.Error("a new key is withdrawn")
	}
}

// TestParseSkips: keys that are not RS256 signing keys of MinRSABits are skipped; the others
// are used.
func TestParseSkips(t *testing.T) {
	k := testKeys(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecJWK := map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec",
		"x": b64.EncodeToString(ec.X.FillBytes(make([]byte, 32))), "y": b64.EncodeToString(ec.Y.FillBytes(make([]byte, 32)))}
	skipped := []map[string]any{
		ecJWK,
		jwk("small", &rs256.WeakKey(t).PublicKey, nil),
		jwk("rs384", &k[1].PublicKey, map[string]any{"alg": "RS384"}),
		jwk("enc", &k[1].PublicKey, map[string]any{"use": "enc"}),
		jwk("", &k[1].PublicKey, nil),
		{"kty": "RSA", "kid": "garbage", "n": "!!", "e": "AQAB"},
		{"kid": "no-kty"},
	}
	keys, ambiguous, err := keyset.Parse(doc(t, append(skipped, jwk("good", &k[0].PublicKey, nil))...))
	if err != nil || len(ambiguous) != 0 {
		t.Fatalf("Parse: %v, ambiguous %q", err, ambiguous)
	}
	if got := slices.Sorted(mapKeys(keys)); !slices.Equal(got, []string{"good"}) {
		t.Errorf("kept %q, want only the good key", got)
	}

	// Without a usable key, the document is an error that says why each was skipped.
	_, _, err = keyset.Parse(doc(t, skipped...))
	if err == nil {
		t.Fatal("a set of unusable keys parsed")
	}
	for _, want := range []string{"no usable RS256 key among 7", "1024-bit", `"RS384"`, `"enc"`, "no kid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestParseNoUsableKey(t *testing.T) {
	for _, body := range []string{``, `not json`, `null`, `{}`, `{"keys":[]}`, `{"keys":null}`, `{"keys":{}}`, `{"keys":[1]}`, `[]`} {
		keys, _, err := keyset.Parse([]byte(body))
		if err == nil || keys != nil {
			t.Errorf("Parse(%q) = %v, %v", body, keys, err)
		}
	}
}

// TestParseAmbiguous: a kid listed with two different keys, or with a key that is skipped,
// names neither; the same key listed twice is harmless.
func TestParseAmbiguous(t *testing.T) {
	k := testKeys(t)
	keys, ambiguous, err := keyset.Parse(doc(t,
		jwk("twice", &k[0].PublicKey, nil), jwk("twice", &k[0].PublicKey, nil),
		jwk("two-keys", &k[0].PublicKey, nil), jwk("two-keys", &k[1].PublicKey, nil),
		jwk("skipped-second", &k[0].PublicKey, nil), jwk("skipped-second", &k[1].PublicKey, map[string]any{"alg": "RS512"}),
		jwk("skipped-first", &rs256.WeakKey(t).PublicKey, nil), jwk("skipped-first", &k[0].PublicKey, nil),
		jwk("three", &k[0].PublicKey, nil), jwk("three", &k[0].PublicKey, nil), jwk("three", &k[2].PublicKey, nil),
		jwk("ok", &k[2].PublicKey, nil),
	))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"skipped-first", "skipped-second", "three", "two-keys"}; !slices.Equal(ambiguous, want) {
		t.Errorf("ambiguous %q, want %q", ambiguous, want)
	}
	if got := slices.Sorted(mapKeys(keys)); !slices.Equal(got, []string{"ok", "twice"}) {
		t.Errorf("kept %q", got)
	}
	// A set whose only kid is ambiguous has no usable key.
	_, _, err = keyset.Parse(doc(t, jwk("a", &k[0].PublicKey, nil), jwk("a", &k[1].PublicKey, nil)))
	if err == nil || !strings.Contains(err.Error(), `kid "a" listed with two different keys`) {
		t.Errorf("error %v", err)
	}
}

func mapKeys(m map[string]*keyset.Key) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// fetcher is the Set's Config.Fetch: it serves a body or an error, counts its calls, and,
// while gated, holds each call until the gate opens.
type fetcher struct {
	mu    sync.Mutex
	body  []byte
	err   error
	gate  chan struct{} // nil: answer at once
	calls atomic.Int64
	ended atomic.Int64
}

func (f *fetcher) Fetch(ctx context.Context) ([]byte, error) {
	f.calls.Add(1)
	defer f.ended.Add(1)
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body, f.err
}

func (f *fetcher) serve(body []byte, err error) {
	f.mu.Lock()
	f.body, f.err = body, err
	f.mu.Unlock()
}

// hold makes the calls from now on wait until the function returned is called.
func (f *fetcher) hold() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.gate = nil
			f.mu.Unlock()
			close(gate)
		})
	}
}

const (
	leeway   = 30 * time.Second
	cooldown = 10 * time.Second
	refresh  = time.Hour
)

type setup struct {
	set   *keyset.Set
	fetch *fetcher
	clock *testkit.Clock
	logs  *testkit.LogBuffer
}

// newSet returns a Set over a fake fetch that serves body, and waits for its first fetch,
// unless that is held (hold).
func newSet(t *testing.T, body []byte, fetchWait time.Duration, hold bool) (*setup, func()) {
	t.Helper()
	s := &setup{fetch: &fetcher{body: body}, clock: testkit.NewClockAt(time.Unix(1_700_000_000, 0)), logs: &testkit.LogBuffer{}}
	release := func() {}
	if hold {
		release = s.fetch.hold()
		t.Cleanup(release)
	}
	var done <-chan struct{}
	s.set, done = keyset.New(keyset.Config{
		Fetch: s.fetch.Fetch, Team: "https://team.example", Leeway: leeway, RefreshInterval: refresh,
		Cooldown: cooldown, FetchWait: fetchWait, Now: s.clock.Now,
		Log: slog.New(slog.NewTextHandler(s.logs, nil)),
	})
	if !hold {
		wait(t, done)
	}
	return s, release
}

func (s *setup) log() string { return s.logs.String() }

// wait waits for a channel that must close, with a deadline no loaded machine reaches.
func wait(t testing.TB, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("timed out")
	}
}

func noIAT() time.Time { return time.Time{} }

func wantKind(t testing.TB, err error, kind keyset.Kind) *keyset.Error {
	t.Helper()
	var e *keyset.Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Fatalf("error %v, want kind %d", err, kind)
	}
	return e
}

func TestSetLoads(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil), jwk("b", &k[1].PublicKey, nil)), time.Minute, false)
	st := s.set.Stats()
	if !slices.Equal(st.KIDs, []string{"a", "b"}) || !st.LoadedAt.Equal(s.clock.Now()) || st.Err != nil {
		t.Fatalf("stats %+v", st)
	}
	got, err := s.set.Key(context.Background(), "b", s.clock.Now(), func() time.Time {
		t.Error("iat read for a known kid")
		return time.Time{}
	})
	if err != nil || got.KID != "b" || !got.Public.Equal(&k[1].PublicKey) {
		t.Fatalf("Key = %v, %v", got, err)
	}
	if !strings.Contains(s.log(), "level=INFO") || !strings.Contains(s.log(), "loaded") {
		t.Errorf("log:\n%s", s.log())
	}
}

// TestSetUnavailableBeforeLoad: until a set loads, every kid is Unavailable, with the fetch's
// failure when there was one; the set heals by itself once the fetch succeeds.
func TestSetUnavailableBeforeLoad(t *testing.T) {
	k := testKeys(t)
	s, release := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), 0, true)
	_, err := s.set.Key(context.Background(), "a", s.clock.Now(), noIAT)
	if e := wantKind(t, err, keyset.Unavailable); e.Err != nil {
		t.Errorf("cause %v before any fetch ended", e.Err)
	}
	if st := s.set.Stats(); st.Unavailable != 1 || st.KIDs != nil || !st.LoadedAt.IsZero() {
		t.Errorf("stats %+v", st)
	}

	// The first fetch fails: the failure is the cause.
	boom := errors.New("certs: 500")
	s.fetch.serve(nil, boom)
	release()
	testkit.Eventually(t, "the first fetch", func() bool { return s.set.Stats().Err != nil })
	_, err = s.set.Key(context.Background(), "a", s.clock.Now(), noIAT)
	if e := wantKind(t, err, keyset.Unavailable); !errors.Is(e, boom) || !strings.Contains(e.Error(), "certs: 500") {
		t.Errorf("error %v, want the fetch's failure", err)
	}
	testkit.Eventually(t, "a failed first load logged at Warn", func() bool { return strings.Contains(s.log(), "level=WARN") })

	// It heals through the cool-down, with no restart.
	s.fetch.serve(doc(t, jwk("a", &k[0].PublicKey, nil)), nil)
	s.clock.Advance(cooldown)
	testkit.Eventually(t, "a fetch after the cool-down", func() bool {
		_, err := s.set.Key(context.Background(), "a", s.clock.Now(), noIAT)
		return err == nil
	})
}

// TestSetCoalescesFetches: concurrent callers with unknown kids share one fetch, and all
// get the key it brings.
func TestSetCoalescesFetches(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), time.Minute, false)
	release := s.fetch.hold()
	defer release()
	s.fetch.serve(doc(t, jwk("a", &k[0].PublicKey, nil), jwk("new", &k[1].PublicKey, nil)), nil)
	now := s.clock.Now()
	const callers = 20
	waiting := make(chan struct{}, callers)
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.set.Key(watchedContext{context.Background(), waiting}, "new", now, noIAT)
		})
	}
	// Release the fetch once every caller waits for it.
	for range callers {
		select {
		case <-waiting:
		case <-time.After(time.Minute):
			t.Fatal("callers did not wait for the fetch under way")
		}
	}
	// A caller may wait before the fetch it forced has begun.
	testkit.Eventually(t, "the forced fetch", func() bool { return s.fetch.calls.Load() >= 2 })
	if n := s.fetch.calls.Load(); n != 2 {
		t.Errorf("%d fetches for %d concurrent unknown kids, want the first and one forced", n, callers)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := s.fetch.calls.Load(); n != 2 {
		t.Errorf("%d fetches, want the first and one forced", n)
	}
}

// watchedContext says on waiting when a caller starts watching it: when it waits.
type watchedContext struct {
	context.Context
	waiting chan<- struct{}
}

func (c watchedContext) Done() <-chan struct{} {
	select {
	case c.waiting <- struct{}{}:
	default: // more than one watch by a caller: once is what counts
	}
	return c.Context.Done()
}

// TestSetCooldown: an unknown kid forces at most one fetch per cool-down; the first comes
// right after start-up (New does not start the cool-down).
func TestSetCooldown(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), time.Minute, false)
	unknown := func(kid string) {
		t.Helper()
		_, err := s.set.Key(context.Background(), kid, s.clock.Now(), noIAT)
		wantKind(t, err, keyset.Unknown)
	}
	unknown("x") // forces a fetch, which settles it
	if n := s.fetch.calls.Load(); n != 2 {
		t.Fatalf("%d fetches after the first unknown kid, want 2", n)
	}
	for _, d := range []time.Duration{0, time.Second, cooldown - time.Second - time.Nanosecond} {
		s.clock.Advance(d)
		unknown("y")
	}
	if n := s.fetch.calls.Load(); n != 2 {
		t.Errorf("%d fetches inside the cool-down, want 2", n)
	}
	s.clock.Advance(time.Nanosecond)
	unknown("z")
	if n := s.fetch.calls.Load(); n != 3 {
		t.Errorf("%d fetches after the cool-down, want 3", n)
	}
	if st := s.set.Stats(); st.Unknown != 5 || st.Pending != 0 || st.Unavailable != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSetJudge: inside the cool-down, a kid the set lacks is Pending only for a token issued
// after the set was fetched (minus leeway) and not in the future (plus leeway); otherwise
// Unknown.
func TestSetJudge(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), time.Minute, false)
	s.clock.Advance(time.Minute)
	// A forced fetch now: the set is as of now, and the cool-down runs.
	_, err := s.set.Key(context.Background(), "x", s.clock.Now(), noIAT)
	wantKind(t, err, keyset.Unknown)
	loadedAt := s.set.Stats().LoadedAt
	if !loadedAt.Equal(s.clock.Now()) {
		t.Fatalf("loaded at %v, want %v", loadedAt, s.clock.Now())
	}
	now := s.clock.Advance(2 * time.Second)
	for _, tc := range []struct {
		name string
		iat  time.Time
		want keyset.Kind
	}{
		{"no iat", time.Time{}, keyset.Unknown},
		{"issued before the fetch, beyond the leeway", loadedAt.Add(-leeway - time.Second), keyset.Unknown},
		{"issued before the fetch, within the leeway", loadedAt.Add(-leeway), keyset.Pending},
		{"issued after the fetch", loadedAt.Add(time.Second), keyset.Pending},
		{"issued now", now, keyset.Pending},
		{"issued in the future, within the leeway", now.Add(leeway), keyset.Pending},
		{"issued in the future, beyond the leeway", now.Add(leeway + time.Second), keyset.Unknown},
	} {
		_, err := s.set.Key(context.Background(), "new", now, func() time.Time { return tc.iat })
		var e *keyset.Error
		if !errors.As(err, &e) || e.Kind != tc.want {
			t.Errorf("%s: %v, want kind %d", tc.name, err, tc.want)
		}
	}
	if n := s.fetch.calls.Load(); n != 2 {
		t.Errorf("%d fetches inside the cool-down", n)
	}
	// A request that arrived before the set was fetched is settled by it, whatever its iat.
	_, err = s.set.Key(context.Background(), "new", loadedAt, func() time.Time { return loadedAt })
	wantKind(t, err, keyset.Unknown)
	if st := s.set.Stats(); st.Pending != 4 || st.Unknown != 5 {
		t.Errorf("stats %+v", st)
	}
	if strings.Contains(s.log(), "level=WARN") {
		t.Errorf("unknown kids logged at Warn:\n%s", s.log())
	}
}

// TestSetPendingSchedulesFetch: a Pending answer sets one fetch for the end of the cool-down,
// which learns a key published since without waiting for a client to retry.
func TestSetPendingSchedulesFetch(t *testing.T) {
	k := testKeys(t)
	fetch := &fetcher{body: doc(t, jwk("a", &k[0].PublicKey, nil))}
	clock := testkit.NewClockAt(time.Unix(1_700_000_000, 0))
	const short = 50 * time.Millisecond // also real time: the scheduled fetch runs on a timer
	set, done := keyset.New(keyset.Config{Fetch: fetch.Fetch, Leeway: leeway, RefreshInterval: refresh,
		Cooldown: short, FetchWait: time.Minute, Now: clock.Now, Log: slog.New(slog.DiscardHandler)})
	wait(t, done)
	clock.Advance(time.Minute)
	_, err := set.Key(context.Background(), "x", clock.Now(), noIAT) // forced: the cool-down starts
	wantKind(t, err, keyset.Unknown)
	fetch.serve(doc(t, jwk("a", &k[0].PublicKey, nil), jwk("new", &k[1].PublicKey, nil)), nil)
	now := clock.Advance(short / 5)
	for i := range 5 {
		_, err := set.Key(context.Background(), "new", now, func() time.Time {
			if i == 4 {
				// The cool-down ends while the last of these requests is judged. The fetch
				// scheduled at the first Pending (a real timer, set for the rest of the
				// cool-down as the fake clock measures it) has either not fired yet, and
				// finds the cool-down over when it does, or fired too early to fetch, and
				// this answer schedules another.
				clock.Advance(short)
			}
			return now
		})
		wantKind(t, err, keyset.Pending)
	}
	testkit.Eventually(t, "the scheduled fetch", func() bool { return slices.Contains(set.Stats().KIDs, "new") })
	got, err := set.Key(context.Background(), "new", clock.Now(), noIAT)
	if err != nil || got.KID != "new" {
		t.Fatalf("Key = %v, %v", got, err)
	}
	if n := fetch.calls.Load(); n != 3 {
		t.Errorf("%d fetches, want one scheduled for five Pending answers", n)
	}
}

// TestSetFailedFetch: a failed fetch keeps the last good set, reports Unavailable for the
// recent tokens it could not settle, and is retried one cool-down later, not at once.
func TestSetFailedFetch(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), time.Minute, false)
	before, err := s.set.Key(context.Background(), "a", s.clock.Now(), noIAT)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("connection refused")
	for i, bad := range []struct {
		body []byte
		err  error
	}{{nil, boom}, {[]byte(`{"keys":[]}`), nil}, {[]byte(`<html>`), nil}} {
		s.fetch.serve(bad.body, bad.err)
		s.clock.Advance(refresh)
		calls, prevErr := s.fetch.calls.Load(), s.set.Stats().Err
		s.set.RefreshIfDue(s.clock.Now())
		// Each failure is a new error value, recorded with the next due time.
		testkit.Eventually(t, "the refresh", func() bool { err := s.set.Stats().Err; return err != nil && err != prevErr })
		st := s.set.Stats()
		if !slices.Equal(st.KIDs, []string{"a"}) {
			t.Fatalf("refresh %d: kids %q", i, st.KIDs)
		}
		if got, err := s.set.Key(context.Background(), "a", s.clock.Now(), noIAT); err != nil || got != before || got.Withdrawn() {
			t.Fatalf("refresh %d: the last good key is gone: %v, %v", i, got, err)
		}
		// Not retried before the cool-down, whatever the refresh interval.
		s.set.RefreshIfDue(s.clock.Advance(cooldown - time.Nanosecond))
		if n := s.fetch.calls.Load(); n != calls+1 {
			t.Fatalf("refresh %d: retried inside the cool-down", i)
		}
	}
	// A kid the failed fetch could not settle: Unavailable for a recent token, Unknown for an
	// old one.
	s.clock.Advance(time.Minute)
	now := s.clock.Now()
	_, err = s.set.Key(context.Background(), "new", now, func() time.Time { return now })
	if e := wantKind(t, err, keyset.Unavailable); e.Err == nil {
		t.Error("no cause")
	}
	_, err = s.set.Key(context.Background(), "new", now, func() time.Time { return now.Add(-24 * time.Hour) })
	wantKind(t, err, keyset.Unknown)
	// The forced fetch above has ended, its log line written.
	if n := strings.Count(s.log(), "keeping the last good set"); n != 4 {
		t.Errorf("%d warnings for four failed refreshes:\n%s", n, s.log())
	}

	// A later success clears the error.
	s.fetch.serve(doc(t, jwk("a", &k[0].PublicKey, nil)), nil)
	calls := s.fetch.calls.Load()
	s.set.RefreshIfDue(s.clock.Advance(cooldown))
	testkit.Eventually(t, "the refresh", func() bool { return s.fetch.calls.Load() == calls+1 && s.set.Stats().Err == nil })
}

// TestSetWithdrawsKeys: a key that a fetch no longer lists, or lists with another public key,
// is marked withdrawn, and its kid is settled (Unknown) even for a recent token; a key still
// listed is kept, the same *Key.
func TestSetWithdrawsKeys(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil), jwk("b", &k[1].PublicKey, nil), jwk("c", &k[2].PublicKey, nil)), time.Minute, false)
	get := func(kid string) *keyset.Key {
		t.Helper()
		key, err := s.set.Key(context.Background(), kid, s.clock.Now(), noIAT)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	a, b, c := get("a"), get("b"), get("c")
	s.fetch.serve(doc(t, jwk("b", &k[1].PublicKey, nil), jwk("c", &k[0].PublicKey, nil)), nil)
	s.set.RefreshIfDue(s.clock.Advance(refresh))
	testkit.Eventually(t, "the refresh", func() bool { return slices.Equal(s.set.Stats().KIDs, []string{"b", "c"}) })
	if !a.Withdrawn() || b.Withdrawn() || !c.Withdrawn() {
		t.Errorf("withdrawn: a %v, b %v, c %v; want a and c", a.Withdrawn(), b.Withdrawn(), c.Withdrawn())
	}
	if get("b") != b {
		t.Error("a key still listed was replaced")
	}
	if nc := get("c"); nc == c || !nc.Public.Equal(&k[0].PublicKey) || nc.Withdrawn() {
		t.Error("a kid listed with another key kept the old one")
	}
	// Inside the cool-down (start it), a recent token under the withdrawn kid is settled.
	_, err := s.set.Key(context.Background(), "x", s.clock.Now(), noIAT)
	wantKind(t, err, keyset.Unknown)
	now := s.clock.Advance(time.Second)
	_, err = s.set.Key(context.Background(), "a", now, func() time.Time { return now })
	wantKind(t, err, keyset.Unknown)
	// Listed again, it is usable again, and no longer settled.
	s.fetch.serve(doc(t, jwk("a", &k[0].PublicKey, nil)), nil)
	s.set.RefreshIfDue(s.clock.Advance(refresh))
	testkit.Eventually(t, "the refresh", func() bool { return slices.Equal(s.set.Stats().KIDs, []string{"a"}) })
	if got := get("a"); got == a || got.Withdrawn() {
		t.Error("a relisted key is still withdrawn")
	}
}

// TestSetFetchWait: a caller waits for a fetch under way no longer than FetchWait, or its
// context, allow; the fetch goes on for the others.
func TestSetFetchWait(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), 20*time.Millisecond, false)
	release := s.fetch.hold()
	defer release()
	s.fetch.serve(doc(t, jwk("a", &k[0].PublicKey, nil), jwk("new", &k[1].PublicKey, nil)), nil)
	now := s.clock.Now()
	returned := make(chan error, 1)
	go func() {
		_, err := s.set.Key(context.Background(), "new", now.Add(time.Second), noIAT)
		returned <- err
	}()
	var err error
	select {
	case err = <-returned:
	case <-time.After(time.Minute):
		t.Fatal("a caller waited for a hanging fetch beyond FetchWait")
	}
	wantKind(t, err, keyset.Unknown)
	if s.fetch.calls.Load() != 2 || s.fetch.ended.Load() != 1 {
		t.Fatalf("fetches: %d started, %d ended", s.fetch.calls.Load(), s.fetch.ended.Load())
	}

	// A caller whose context ends stops waiting too, whatever FetchWait.
	patient, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), time.Hour, false)
	hold := patient.fetch.hold()
	defer hold()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := patient.set.Key(ctx, "new", patient.clock.Now(), noIAT)
		returned <- err
	}()
	testkit.Eventually(t, "the forced fetch", func() bool { return patient.fetch.calls.Load() == 2 })
	cancel()
	select {
	case err = <-returned:
	case <-time.After(time.Minute):
		t.Fatal("a caller outlived its context")
	}
	wantKind(t, err, keyset.Unknown)

	// The fetch goes on, and serves the next caller.
	release()
	testkit.Eventually(t, "the held fetch", func() bool { return slices.Contains(s.set.Stats().KIDs, "new") })
	if _, err := s.set.Key(context.Background(), "new", s.clock.Now(), noIAT); err != nil {
		t.Fatal(err)
	}
}

// TestSetRefreshIfDue: the set is fetched again once it is older than the refresh interval,
// once however many callers notice.
func TestSetRefreshIfDue(t *testing.T) {
	k := testKeys(t)
	s, _ := newSet(t, doc(t, jwk("a", &k[0].PublicKey, nil)), time.Minute, false)
	s.set.RefreshIfDue(s.clock.Advance(refresh - time.Second))
	if n := s.fetch.calls.Load(); n != 1 {
		t.Fatalf("%d fetches before the interval", n)
	}
	release := s.fetch.hold()
	now := s.clock.Advance(time.Second)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { s.set.RefreshIfDue(now) })
	}
	wg.Wait()
	release()
	testkit.Eventually(t, "the refresh", func() bool { return s.set.Stats().LoadedAt.Equal(now) })
	if n := s.fetch.calls.Load(); n != 2 {
		t.Errorf("%d fetches, want one refresh", n)
	}
}

// TestSetLogsAmbiguityOnce: a kid listed with two keys is logged when a fetch first finds it,
// not at every refresh that finds it again.
func TestSetLogsAmbiguityOnce(t *testing.T) {
	k := testKeys(t)
	body := doc(t, jwk("a", &k[0].PublicKey, nil), jwk("twice", &k[1].PublicKey, nil), jwk("twice", &k[2].PublicKey, nil))
	s, _ := newSet(t, body, time.Minute, false)
	for range 2 {
		// A forced fetch, which an unknown kid waits for to the end, log lines included.
		s.clock.Advance(cooldown)
		_, err := s.set.Key(context.Background(), "unknown", s.clock.Now(), noIAT)
		wantKind(t, err, keyset.Unknown)
	}
	if n := s.fetch.calls.Load(); n != 3 {
		t.Fatalf("%d fetches", n)
	}
	if n := strings.Count(s.log(), "twice with different keys"); n != 1 {
		t.Errorf("%d warnings for three fetches:\n%s", n, s.log())
	}
	if _, err := s.set.Key(context.Background(), "twice", s.clock.Now(), noIAT); err == nil {
		t.Error("an ambiguous kid has a key")
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	for _, tc := range []struct {
		err  *keyset.Error
		want string
	}{
		{&keyset.Error{Kind: keyset.Unknown}, "unknown key ID"},
		{&keyset.Error{Kind: keyset.Pending}, "the signing key may be newer than the key set"},
		{&keyset.Error{Kind: keyset.Unavailable}, "the signing keys are unavailable"},
		{&keyset.Error{Kind: keyset.Unavailable, Err: cause}, "the signing keys are unavailable: cause"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
	if !errors.Is(&keyset.Error{Kind: keyset.Unavailable, Err: cause}, cause) {
		t.Error("Unwrap")
	}
}
