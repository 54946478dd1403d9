package core_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

func TestKeysBootWhileCertsFailHealsAfterCooldown(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.Status500)
	v, clk := testkit.ClockedVerifier(t, srv)
	tok := srv.User("ann@example.com")
	ctx := context.Background()

	// No keys yet: unavailable (503), never invalid (401), never a pass.
	_, err := v.Verify(ctx, tok)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if errors.Is(err, core.ErrInvalidToken) {
		t.Error("no keys reported as an invalid token")
	}
	fetches := srv.CertsRequests() // boot, and one retry by the first request
	if fetches != 2 {
		t.Errorf("certs fetched %d times, want 2", fetches)
	}
	if st := v.Stats(); st.KeyError == nil || len(st.KeyIDs) != 0 {
		t.Errorf("Stats = %+v, want an error and no keys", st)
	}

	// Inside the cool-down nobody fetches, healed endpoint or not.
	srv.FailCerts(accesstest.Healthy)
	for range 50 {
		_, err = v.Verify(ctx, tok)
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	}
	clk.Advance(core.DefaultUnknownKeyCooldown - time.Millisecond)
	_, err = v.Verify(ctx, tok)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if n := srv.CertsRequests(); n != fetches {
		t.Fatalf("certs fetched %d times inside the cool-down, want %d", n, fetches)
	}

	// Once the cool-down has passed, the next request heals the verifier: no restart.
	clk.Advance(time.Millisecond)
	mustVerify(t, v, tok, "after the cool-down")
	if st := v.Stats(); st.KeyError != nil || len(st.KeyIDs) != 2 || st.KeysLoadedAt.IsZero() { // current and previous
		t.Errorf("Stats after healing = %+v", st)
	}
}

func TestKeysBootWhileCertsHang(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.Hang)
	cfg := testkit.Config(srv, nil)
	cfg.Keys.StartupWait = 50 * time.Millisecond
	// The fetch hangs until the server closes: what ends a wait is the wait's own bound.
	cfg.RequestTimeout = 10 * time.Minute

	start := time.Now()
	v := testkit.NewVerifier(t, cfg)
	if took := time.Since(start); took >= time.Minute {
		t.Fatalf("NewVerifier took %v: start-up waited for the hanging fetch", took)
	}

	// A request that arrives while the boot fetch hangs shares it, and may give up on it
	// without cancelling it for others (it would otherwise wait Keys.FetchWait, a minute).
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := v.Verify(ctx, srv.User("ann@example.com"))
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if took := time.Since(start); took >= 30*time.Second {
		t.Errorf("Verify took %v: the caller's deadline was not honoured", took)
	}
	if n := srv.CertsRequests(); n != 1 {
		t.Errorf("certs requested %d times, want the one shared fetch", n)
	}
}

func TestKeysFetchTimesOut(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.SlowDrip)
	cfg := testkit.Config(srv, nil)
	cfg.Keys.StartupWait = core.None
	cfg.RequestTimeout = 150 * time.Millisecond // the whole body would drip for minutes
	v := testkit.NewVerifier(t, cfg)
	// The request joins the boot fetch, which the request timeout ends, and waits for it
	// (Keys.FetchWait is a minute): the fetch's failure is recorded before it is answered.
	_, err := v.Verify(context.Background(), srv.User("ann@example.com"))
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if st := v.Stats(); st.KeyError == nil || !strings.Contains(st.KeyError.Error(), "deadline") {
		t.Errorf("KeyError = %v, want a deadline", st.KeyError)
	}
}

func TestKeysUnknownKidFloodIsCoalescedAndCooledDown(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	valid := srv.User("ann@example.com")
	mustVerify(t, v, valid, "")
	if n := srv.CertsRequests(); n != 1 {
		t.Fatalf("certs fetched %d times at boot", n)
	}

	// An attacker's invented kids, on tokens issued before the key set was fetched: whether
	// fetched for them or not, the set settles them (401). Only one fetch serves them all.
	flood := func(n int) {
		t.Helper()
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = srv.Mint(accesstest.Token{Email: "mallory@example.com", KeyID: fmt.Sprintf("invented-%d", i),
				IssuedAt: clk.Now().Add(-time.Hour), ExpiresAt: clk.Now().Add(time.Hour)})
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, tok := range tokens {
			wg.Go(func() { _, errs[i] = v.Verify(context.Background(), tok) })
		}
		wg.Wait()
		for _, err := range errs {
			testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
		}
	}

	flood(100)
	if n := srv.CertsRequests(); n != 2 {
		t.Fatalf("100 concurrent unknown kids caused %d fetches, want 1", n-1)
	}
	flood(100)
	clk.Advance(core.DefaultUnknownKeyCooldown - time.Millisecond)
	flood(10)
	// A token issued after the set was fetched, under a kid the set lacks, may carry a key
	// published since: inside the cool-down nobody can tell, so it is "try again" (503).
	_, err := v.Verify(context.Background(), srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: "maybe-new", IssuedAt: clk.Now()}))
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonUnknownKeyPending)
	if n := srv.CertsRequests(); n != 2 {
		t.Fatalf("unknown kids inside the cool-down caused %d more fetches, want 0", n-2)
	}
	clk.Advance(time.Millisecond)
	flood(10)
	if n := srv.CertsRequests(); n != 3 {
		t.Fatalf("after the cool-down: %d fetches in all, want 3", n)
	}
	// Known keys were never affected.
	mustVerify(t, v, valid, "")
}

func TestKeysRotation(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	first := srv.KeyIDs()[0]
	oldTok := srv.User("ann@example.com")
	mustVerify(t, v, oldTok, "")

	// A new current key: its first token triggers one fetch; the previous key stays valid.
	second := srv.RotateKeys()
	newTok := srv.User("bob@example.com")
	mustVerify(t, v, newTok, "token of the new key")
	if n := srv.CertsRequests(); n != 2 {
		t.Errorf("certs fetched %d times, want 2", n)
	}
	mustVerify(t, v, oldTok, "token of the previous key during the overlap")
	mustVerify(t, v, srv.Mint(accesstest.Token{Email: "cy@example.com", KeyID: first}), "fresh token of the previous key during the overlap")

	// The next rotation drops the first key: once fetched, its tokens stop verifying,
	// the cached one included.
	clk.Advance(core.DefaultUnknownKeyCooldown)
	third := srv.RotateKeys()
	mustVerify(t, v, srv.User("dee@example.com"), "token of the third key")
	if got, want := v.Stats().KeyIDs, sorted(second, third); !slices.Equal(got, want) {
		t.Fatalf("KeyIDs = %v, want %v", got, want)
	}
	_, err := v.Verify(ctx, oldTok)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	mustVerify(t, v, newTok, "token of the second key after the second rotation")
}

func TestKeysPeriodicRefreshWithdrawsKeys(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	first := srv.KeyIDs()[0]
	tok := srv.User("ann@example.com")
	mustVerify(t, v, tok, "")
	second := srv.RotateKeys()
	srv.RemoveKey(first)

	// Before the interval nothing is fetched, so the cached token still passes.
	clk.Advance(core.DefaultRefreshInterval - time.Second)
	mustVerify(t, v, tok, "")
	if n := srv.CertsRequests(); n != 1 {
		t.Fatalf("fetched %d times before the refresh interval", n)
	}
	// After it, a request (even a cache hit) starts a background refresh.
	clk.Advance(time.Second)
	_, _ = v.Verify(ctx, tok)
	testkit.Eventually(t, "the periodic refresh", func() bool { return slices.Equal(v.Stats().KeyIDs, []string{second}) })
	_, err := v.Verify(ctx, tok)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
}

func TestKeysRefreshFailureKeepsLastGoodSet(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	// Tokens are minted on the test's clock, which runs hours ahead.
	user := func(email string) string { return srv.Mint(accesstest.Token{Email: email, IssuedAt: clk.Now()}) }
	mustVerify(t, v, user("ann@example.com"), "")

	for _, fault := range []accesstest.Fault{accesstest.Status500, accesstest.Garbage, accesstest.Truncated, accesstest.Huge, accesstest.Status404} {
		srv.FailCerts(fault)
		before := srv.CertsRequests()
		clk.Advance(core.DefaultRefreshInterval)
		_, _ = v.Verify(ctx, user("ann@example.com"))
		testkit.Eventually(t, "the failed refresh", func() bool { return v.Stats().KeyError != nil })
		if n := srv.CertsRequests(); n != before+1 {
			t.Fatalf("fault %d: %d fetches, want 1", fault, n-before)
		}
		// The last good keys still verify fresh tokens.
		if _, err := v.Verify(ctx, user("bob@example.com")); err != nil {
			t.Fatalf("fault %d: known key after a failed refresh: %v", fault, err)
		}
		// An unknown kid cannot be judged while the set cannot be refreshed: 503, not 401.
		clk.Advance(core.DefaultUnknownKeyCooldown)
		_, err := v.Verify(ctx, srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: "new", IssuedAt: clk.Now()}))
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)

		// Healed: the retry comes one cool-down after the failure, by itself.
		srv.FailCerts(accesstest.Healthy)
		clk.Advance(core.DefaultUnknownKeyCooldown)
		_, _ = v.Verify(ctx, user("ann@example.com"))
		testkit.Eventually(t, "the retry", func() bool { return v.Stats().KeyError == nil })
	}
}

func TestKeysRedirectsAreRefused(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.RedirectAway)
	// A client that follows anything; the verifier must still refuse to leave the team domain.
	cfg := testkit.Config(srv, nil)
	cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	v := testkit.NewVerifier(t, cfg)
	_, err := v.Verify(context.Background(), srv.User("ann@example.com"))
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if st := v.Stats(); st.KeyError == nil || !strings.Contains(st.KeyError.Error(), "redirect") {
		t.Errorf("KeyError = %v, want the redirect refused", st.KeyError)
	}
	// The redirect target does answer: the refusal is the verifier's doing.
	resp, err := cfg.HTTPClient.Get(srv.URL + "/cdn-cgi/access/certs")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("plain client: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestKeysSkipsUnusableKeys serves a hand-made key set: only RS256 signing keys of 2048 bits
// or more, with a kid, are taken.
func TestKeysSkipsUnusableKeys(t *testing.T) {
	good, weak := rs256.Key(t, 0), rs256.WeakKey(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := func(kid, alg, use string, k *rsa.PrivateKey) map[string]any {
		m := rs256.JWK(kid, &k.PublicKey)
		for name, v := range map[string]string{"alg": alg, "use": use} {
			if v == "" {
				delete(m, name)
			} else {
				m[name] = v
			}
		}
		return m
	}
	var mu sync.Mutex
	doc := map[string]any{"keys": []any{
		rsaJWK("weak", "RS256", "sig", weak),
		rsaJWK("", "RS256", "sig", good),
		rsaJWK("rs384", "RS384", "sig", good),
		rsaJWK("enc", "RS256", "enc", good),
		map[string]any{"kid": "ec", "kty": "EC", "crv": "P-256", "x": b64.EncodeToString(ec.X.Bytes()), "y": b64.EncodeToString(ec.Y.Bytes())},
		map[string]any{"kid": "junk", "kty": "RSA", "n": "!!", "e": "AQAB"},
		rsaJWK("good", "", "", good),
	}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(doc)
	}))
	defer ts.Close()

	aud := "app"
	// NewVerifier returns once the first fetch has ended, however long it takes.
	keys := core.KeyConfig{StartupWait: time.Minute, FetchWait: time.Minute}
	v := testkit.NewVerifier(t, core.Config{TeamDomain: ts.URL, Audiences: []string{aud}, Keys: keys, Logger: testkit.QuietLogger()})
	if got := v.Stats().KeyIDs; !slices.Equal(got, []string{"good"}) {
		t.Fatalf("KeyIDs = %v, want [good]", got)
	}
	sign := func(kid string, k *rsa.PrivateKey) string {
		h := rs256.Segment(t, map[string]string{"alg": "RS256", "kid": kid})
		p := rs256.Segment(t, map[string]any{"iss": ts.URL, "aud": aud, "exp": time.Now().Add(time.Hour).Unix(), "sub": "u"})
		return rs256.Sign(t, k, h, p)
	}
	mustVerify(t, v, sign("good", good), "token of the usable key")
	_, err = v.Verify(context.Background(), sign("weak", weak))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)

	// A set with no usable key at all is a failed fetch: there is nothing to keep.
	mu.Lock()
	doc = map[string]any{"keys": []any{rsaJWK("weak", "RS256", "sig", weak)}}
	mu.Unlock()
	v2 := testkit.NewVerifier(t, core.Config{TeamDomain: ts.URL, Audiences: []string{aud}, Keys: keys, Logger: testkit.QuietLogger()})
	if st := v2.Stats(); st.KeyError == nil || !strings.Contains(st.KeyError.Error(), "no usable RS256 key") {
		t.Fatalf("KeyError = %v", st.KeyError)
	}
}

func TestLogsNeverHoldTokens(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.Status500)
	clk := testkit.NewClock()
	var logs testkit.LogBuffer
	cfg := testkit.Config(srv, clk)
	cfg.Logger = testkit.DebugLogger(&logs)
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()
	tokens := []string{srv.User("ann@example.com"), srv.ServiceToken(""), srv.Mint(accesstest.Token{KeyID: "nope"})}
	for _, tok := range tokens {
		_, _ = v.Verify(ctx, tok)
	}
	srv.FailCerts(accesstest.Healthy)
	clk.Advance(core.DefaultUnknownKeyCooldown)
	for _, tok := range append(tokens, tokens[0]+"x", "garbage") {
		_, _ = v.Verify(ctx, tok)
	}
	out := logs.String()
	for _, want := range []string{"could not be loaded", "keys loaded"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, tok := range tokens {
		_, p, s := testkit.Segments(t, tok)
		if strings.Contains(out, p) || strings.Contains(out, s) {
			t.Fatalf("a token leaked into the log:\n%s", out)
		}
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestKeysNewKeyInsideCooldown: a key published just after a fetch, whose first tokens
// arrive inside the cool-down (an attacker's invented kids may have just used it up), must
// not get those tokens a 401, which would send browsers back to log in for nothing: they get
// a 503 to retry, and verify once the cool-down lets the set be fetched again.
func TestKeysNewKeyInsideCooldown(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	// An invented kid uses up the cool-down.
	_, err := v.Verify(ctx, srv.Mint(accesstest.Token{Email: "eve@example.com", KeyID: "invented"}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)

	srv.RotateKeys()
	clk.Advance(time.Second)
	fresh := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now()})
	_, err = v.Verify(ctx, fresh)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonUnknownKeyPending)
	if e := core.AsError(err); e.Status() != 503 || e.RetryAfter != core.DefaultUnknownKeyCooldown {
		t.Errorf("status %d, RetryAfter %v", e.Status(), e.RetryAfter)
	}

	clk.Advance(core.DefaultUnknownKeyCooldown)
	mustVerify(t, v, fresh, "after the cool-down")
}

// TestKeysEveryFaultAtBoot: whatever way the certs endpoint fails while the application
// starts, requests are answered 503 (never 401, never a pass) once the fetch fails, which
// the request timeout bounds, and the verifier heals by itself once the endpoint does.
// (TestKeysBootWhileCertsHang holds start-up itself to Keys.StartupWait.)
func TestKeysEveryFaultAtBoot(t *testing.T) {
	for _, fault := range []accesstest.Fault{accesstest.Status500, accesstest.Status404, accesstest.Garbage,
		accesstest.Truncated, accesstest.Huge, accesstest.Hang, accesstest.SlowDrip, accesstest.Reset,
		accesstest.RedirectAway} {
		t.Run(fmt.Sprint(fault), func(t *testing.T) {
			t.Parallel()
			srv := testkit.NewTeam(t)
			srv.FailCerts(fault)
			clk := testkit.NewClock()
			cfg := testkit.Config(srv, clk)
			cfg.RequestTimeout = 2 * time.Second // ends Hang and SlowDrip
			cfg.Keys.StartupWait = 50 * time.Millisecond
			start := time.Now()
			v := testkit.NewVerifier(t, cfg)
			tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now()})
			// The request waits for the fetch under way (Keys.FetchWait is a minute), which
			// fails.
			_, err := v.Verify(context.Background(), tok)
			testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("boot and first request took %v: the request timeout did not end the fetch", took)
			}
			// Healed: the first request after the cool-down fetches the set again. A loaded
			// machine may make that fetch time out too; the next cool-down tries again.
			srv.FailCerts(accesstest.Healthy)
			deadline := time.Now().Add(30 * time.Second)
			for {
				clk.Advance(core.DefaultUnknownKeyCooldown)
				_, err := v.Verify(context.Background(), tok)
				if err == nil {
					break
				}
				testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
				if time.Now().After(deadline) {
					t.Fatalf("not healed: %v", err)
				}
			}
		})
	}
}

// TestKeysWholeSetReplaced: the certs endpoint starts serving an entirely different key set
// (a team domain pointed elsewhere, a wholesale re-key). Once fetched, no token of the old
// keys verifies, cached or not, and the new keys' tokens do.
func TestKeysWholeSetReplaced(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	old := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now()})
	mustVerify(t, v, old, "")
	oldKid := srv.CurrentKeyID()
	srv.RotateKeys()
	srv.RemoveKey(oldKid)
	clk.Advance(core.DefaultRefreshInterval)
	_, _ = v.Verify(ctx, old) // starts the background refresh
	testkit.Eventually(t, "the refresh", func() bool { return !slices.Contains(v.Stats().KeyIDs, oldKid) })
	for _, tok := range []string{old, srv.Mint(accesstest.Token{Email: "bob@example.com", KeyID: oldKid, IssuedAt: clk.Now()})} {
		_, err := v.Verify(ctx, tok)
		testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	}
	mustVerify(t, v, srv.Mint(accesstest.Token{Email: "cy@example.com", IssuedAt: clk.Now()}), "token of the new set")
}

// TestKeysWithdrawnKeyStaysRefused: a token freshly signed with a key that Cloudflare has
// withdrawn (one that leaked, say) is invalid, even inside the unknown-kid cool-down and
// though it is newer than the key set: the set's history settles it, not its age.
func TestKeysWithdrawnKeyStaysRefused(t *testing.T) {
	srv := testkit.NewTeam(t)
	v, clk := testkit.ClockedVerifier(t, srv)
	ctx := context.Background()
	leaked := srv.CurrentKeyID()
	srv.RotateKeys()
	srv.RemoveKey(leaked)
	// An invented kid fetches the set (the leaked key is gone from it) and starts the cool-down.
	_, err := v.Verify(ctx, srv.Mint(accesstest.Token{Email: "eve@example.com", KeyID: "invented", IssuedAt: clk.Now().Add(-time.Hour)}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)

	clk.Advance(time.Second)
	forged := srv.Mint(accesstest.Token{Email: "eve@example.com", KeyID: leaked, IssuedAt: clk.Now()})
	_, err = v.Verify(ctx, forged)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	if n := srv.CertsRequests(); n != 2 {
		t.Errorf("certs fetched %d times, want 2 (boot, the invented kid)", n)
	}
}

// records is a slog.Handler that keeps every record, so that tests can check levels.
type records struct {
	mu   sync.Mutex
	list []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rec.Clone())
	return nil
}

// atLeast returns the records at level or above, as "message reason=…" lines.
func (r *records) atLeast(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.list {
		if rec.Level >= level {
			line := rec.Message
			rec.Attrs(func(a slog.Attr) bool {
				if a.Key == "reason" {
					line += " reason=" + a.Value.String()
				}
				return true
			})
			out = append(out, line)
		}
	}
	return out
}

// forgeWithKid builds a token under kid with the given payload claims and a random
// signature: what anyone can send without a key.
func forgeWithKid(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	return rs256.Segment(t, map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"}) + "." + rs256.Segment(t, claims) + "." + b64.EncodeToString(sig)
}

// TestKeysInventedKidsAreNotAnOutage: a flood of forgeries under invented kids, inside the
// cool-down, is refused 401 unless a token's iat makes a newly published key possible, and
// nothing of it is logged at Warn, by the verifier or by LogEvents given its refusals; only
// a real failure to fetch the keys is. Stats tell the three answers apart.
func TestKeysInventedKidsAreNotAnOutage(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	clk.Set(clk.Now().Truncate(time.Second)) // whole seconds, as iat has them
	rec := &records{}
	cfg := testkit.Config(srv, clk)
	cfg.Logger = slog.New(rec)
	v := testkit.NewVerifier(t, cfg)
	observe := core.LogEvents(slog.New(rec))
	ctx := context.Background()
	// check verifies tok, reports the refusal to LogEvents as a middleware would, and
	// returns it.
	check := func(tok string, status int, reason core.Reason) *core.Error {
		t.Helper()
		c, err := v.Verify(ctx, tok)
		e := core.AsError(err)
		if c != nil || e == nil || e.Status() != status || e.Reason != reason {
			t.Fatalf("Verify = %v, %v; want %d %s", c, err, status, reason)
		}
		observe(core.Event{Outcome: core.OutcomeDenied, Code: e.Code, Reason: e.Reason, Source: core.SourceHeader,
			TokenID: core.TokenID(tok), Err: err})
		return e
	}
	fetched := clk.Now() // when the first invented kid below fetches the key set
	claims := func(iat any) map[string]any {
		c := map[string]any{"iss": srv.URL, "aud": []string{srv.AUD}, "exp": fetched.Add(time.Hour).Unix(), "email": "eve@example.com", "sub": "x"}
		if iat != nil {
			c["iat"] = iat
		}
		return c
	}
	// The first invented kid fetches the set and starts the cool-down; the flood comes inside it.
	check(forgeWithKid(t, "invented", claims(fetched.Add(-time.Hour).Unix())), 401, core.ReasonUnknownKey)
	clk.Advance(time.Second)
	now := clk.Now()

	leeway := core.DefaultLeeway
	iats := []any{
		nil, // absent
		now.Add(365 * 24 * time.Hour).Unix(),
		now.Add(leeway + time.Second).Unix(), // just beyond the leeway into the future
		fetched.Add(-time.Hour).Unix(),
		fetched.Add(-leeway - time.Second).Unix(), // older than the key set, beyond the leeway
		"now", 0, -1, 1e30,
	}
	flood := 0
	for i := range 2000 {
		check(forgeWithKid(t, fmt.Sprintf("kid-%d", i), claims(iats[i%len(iats)])), 401, core.ReasonUnknownKey)
		flood++
	}
	if warn := rec.atLeast(slog.LevelWarn); len(warn) > 0 {
		t.Fatalf("invented kids logged at Warn: %d records, first %q", len(warn), warn[0])
	}
	if n := srv.CertsRequests(); n != 2 {
		t.Errorf("certs fetched %d times, want 2 (boot and the first invented kid)", n)
	}

	// A token that may carry a key published since the fetch: "try again" with its own
	// reason, at Info, and a Retry-After.
	for _, iat := range []time.Time{now, fetched.Add(-leeway), now.Add(leeway)} {
		tok := forgeWithKid(t, "maybe-new", claims(iat.Unix()))
		for range 2 {
			if e := check(tok, 503, core.ReasonUnknownKeyPending); e.RetryAfter != core.DefaultUnknownKeyCooldown {
				t.Errorf("RetryAfter = %v, want the cool-down", e.RetryAfter)
			}
		}
	}
	if warn := rec.atLeast(slog.LevelWarn); len(warn) > 0 {
		t.Fatalf("a token under an unknown kid logged at Warn: %q", warn)
	}
	if info := rec.atLeast(slog.LevelInfo); !slices.ContainsFunc(info, func(l string) bool {
		return strings.HasSuffix(l, "reason="+string(core.ReasonUnknownKeyPending))
	}) {
		t.Errorf("unknown_key_pending not logged at Info: %q", info)
	}
	st := v.Stats()
	if st.UnknownKeys != uint64(flood+1) || st.UnknownKeysPending != 6 || st.KeysUnavailable != 0 {
		t.Errorf("Stats: %d unknown, %d pending, %d unavailable; want %d, 6, 0", st.UnknownKeys, st.UnknownKeysPending, st.KeysUnavailable, flood+1)
	}

	// A real outage, for contrast: the set cannot be refreshed, so a recent token under a
	// kid the set lacks cannot be judged. That is logged at Warn, with the outage's reason.
	srv.FailCerts(accesstest.Status500)
	clk.Advance(core.DefaultRefreshInterval)
	tok := forgeWithKid(t, "maybe-new", claims(clk.Now().Unix()))
	if e := check(tok, 503, core.ReasonKeysUnavailable); e.RetryAfter != core.DefaultUnknownKeyCooldown {
		t.Errorf("RetryAfter = %v, want the cool-down", e.RetryAfter)
	}
	if warn := rec.atLeast(slog.LevelWarn); !slices.Contains(warn, "cfaccess: request denied reason="+string(core.ReasonKeysUnavailable)) {
		t.Errorf("the outage is not logged at Warn: %q", warn)
	}
	if st := v.Stats(); st.KeysUnavailable != 1 || st.UnknownKeysPending != 6 {
		t.Errorf("Stats after the outage: %d unavailable, %d pending; want 1, 6", st.KeysUnavailable, st.UnknownKeysPending)
	}
	// Even then, a token the last good set settles is refused, not an outage.
	check(forgeWithKid(t, "kid-x", claims(nil)), 401, core.ReasonUnknownKey)
}

// TestKeysScheduledFetchLearnsANewKey: after a rotation, a token of the new key that arrives
// inside the cool-down (an invented kid has just used it up) gets "try again", and the key
// is learnt at the end of the cool-down by one scheduled fetch, whether or not anyone
// retries. The fetch runs on a timer, so this test runs on the real clock.
func TestKeysScheduledFetchLearnsANewKey(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.Keys.UnknownKeyCooldown = 2 * time.Second
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()
	start := time.Now()
	_, err := v.Verify(ctx, srv.Mint(accesstest.Token{Email: "eve@example.com", KeyID: "invented", IssuedAt: start.Add(-time.Hour)}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)

	kid := srv.RotateKeys()
	fresh := srv.User("ann@example.com")
	for i := range 20 {
		_, err := v.Verify(ctx, srv.User(fmt.Sprintf("u%d@example.com", i)))
		if time.Since(start) >= cfg.Keys.UnknownKeyCooldown {
			t.Skip("the machine is too slow for this cool-down: the requests outlasted it")
		}
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonUnknownKeyPending)
	}
	testkit.Eventually(t, "the scheduled fetch", func() bool { return slices.Contains(v.Stats().KeyIDs, kid) })
	// A timer never fires early, whatever the load.
	if took := time.Since(start); took < cfg.Keys.UnknownKeyCooldown {
		t.Errorf("the key was fetched after %v, inside the cool-down", took)
	}
	mustVerify(t, v, fresh, "token of the new key after the scheduled fetch")
	// Twenty "try again" answers set one timer: no second scheduled fetch follows by the end
	// of another cool-down. (A sleep can only miss a stray fetch here, never invent one.)
	time.Sleep(cfg.Keys.UnknownKeyCooldown + 100*time.Millisecond)
	if n := srv.CertsRequests(); n != 3 {
		t.Errorf("certs fetched %d times, want 3 (boot, the invented kid, one scheduled fetch)", n)
	}
}

// TestKeysHangingTeamDomain: when the team domain accepts connections and does not answer,
// a request waits for the fetch only Keys.FetchWait, not the request timeout, however many
// wait together; the fetch goes on, and its answer serves the requests that follow.
func TestKeysHangingTeamDomain(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.RequestTimeout = 10 * time.Minute          // only the wait can end a request's wait
	cfg.Keys.FetchWait = 0                         // the default
	cfg.Keys.UnknownKeyCooldown = 10 * time.Minute // no fetch scheduled for the end of it meddles
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()

	srv.FailCerts(accesstest.Held)
	kid := srv.RotateKeys()
	fresh := srv.User("ann@example.com")
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := v.Verify(ctx, fresh)
			testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonUnknownKeyPending)
		})
	}
	wg.Wait()
	// A timer never fires early; the upper bound is far below the request timeout, and far
	// above what any load adds.
	if took := time.Since(start); took < core.DefaultKeyFetchWait || took > time.Minute {
		t.Errorf("requests answered after %v, want about the fetch wait %v", took, core.DefaultKeyFetchWait)
	}
	if n := srv.CertsRequests(); n != 2 {
		t.Errorf("certs fetched %d times, want 2 (boot, one shared fetch)", n)
	}
	srv.FailCerts(accesstest.Healthy) // the held fetch is answered now
	testkit.Eventually(t, "the held fetch", func() bool { return slices.Contains(v.Stats().KeyIDs, kid) })
	mustVerify(t, v, fresh, "after the held fetch")
	if n := srv.CertsRequests(); n != 2 {
		t.Errorf("certs fetched %d times, want 2", n)
	}

	// At boot, with no keys at all: the same wait, then 503; or none, when told not to wait.
	for _, tc := range []struct {
		wait, want time.Duration
	}{
		{0, core.DefaultKeyFetchWait},
		{core.None, 0},
		{50 * time.Millisecond, 50 * time.Millisecond},
	} {
		down := testkit.NewTeam(t)
		down.FailCerts(accesstest.Hang)
		cfg := testkit.Config(down, nil)
		cfg.RequestTimeout = 10 * time.Minute
		cfg.Keys.StartupWait = core.None
		cfg.Keys.FetchWait = tc.wait
		v := testkit.NewVerifier(t, cfg)
		start := time.Now()
		_, err := v.Verify(ctx, down.User("ann@example.com"))
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
		if took := time.Since(start); took < tc.want || took > time.Minute {
			t.Errorf("Keys.FetchWait %v: answered after %v", tc.wait, took)
		}
	}
}

// TestKeysAmbiguousKid: a key set that lists one kid with two different keys gets neither
// used, whichever the token names, and says so once in the log; the same key listed twice
// is harmless.
func TestKeysAmbiguousKid(t *testing.T) {
	a, b, c := rs256.Key(t, 0), rs256.Key(t, 1), rs256.Key(t, 2)
	jwk := func(kid string, k *rsa.PrivateKey) map[string]any { return rs256.JWK(kid, &k.PublicKey) }
	weak := rs256.WeakKey(t)
	doc, _ := json.Marshal(map[string]any{"keys": []any{
		jwk("dup", a), jwk("dup", b), // two keys, one kid
		jwk("same", c), jwk("same", c), // one key, twice
		jwk("weak-dup", c), jwk("weak-dup", weak), // a usable key and a skipped one
		jwk("other", a),
	}})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(doc) }))
	defer ts.Close()
	var logs testkit.LogBuffer
	clk := testkit.NewClock()
	v := testkit.NewVerifier(t, core.Config{TeamDomain: ts.URL, Audiences: []string{"app"}, Logger: testkit.DebugLogger(&logs), Now: clk.Now,
		Keys: core.KeyConfig{StartupWait: time.Minute, FetchWait: time.Minute}})
	if got := v.Stats().KeyIDs; !slices.Equal(got, []string{"other", "same"}) {
		t.Fatalf("KeyIDs = %v, want [other same]", got)
	}
	sign := func(kid string, k *rsa.PrivateKey) string {
		h := rs256.Segment(t, map[string]string{"alg": "RS256", "kid": kid})
		p := rs256.Segment(t, map[string]any{"iss": ts.URL, "aud": "app", "exp": clk.Now().Add(time.Hour).Unix(), "iat": clk.Now().Add(-time.Hour).Unix(), "sub": "u"})
		return rs256.Sign(t, k, h, p)
	}
	for _, tok := range []string{sign("dup", a), sign("dup", b), sign("weak-dup", c)} {
		_, err := v.Verify(context.Background(), tok)
		testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	}
	mustVerify(t, v, sign("same", c), "a key listed twice")
	// Logged once, though every later fetch finds it again.
	clk.Advance(core.DefaultRefreshInterval)
	_, _ = v.Verify(context.Background(), sign("same", c))
	testkit.Eventually(t, "the refresh", func() bool { return v.Stats().KeysLoadedAt.Equal(clk.Now()) })
	out := logs.String()
	if n := strings.Count(out, "lists a kid twice with different keys"); n != 1 || !strings.Contains(out, "kids=\"[dup weak-dup]\"") && !strings.Contains(out, "kids=[dup weak-dup]") {
		t.Errorf("%d warnings about the ambiguous kids, want 1 naming dup and weak-dup:\n%s", n, out)
	}
}

// TestRetryAfter: every 503 of the verifier says when to come back, Keys.UnknownKeyCooldown,
// the soonest the key set may be fetched again; a refusal says nothing of the kind.
func TestRetryAfter(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.Status500)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	cfg.Keys.UnknownKeyCooldown = 42 * time.Second
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now()})

	_, err := v.Verify(ctx, tok)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
	if e := core.AsError(err); e.RetryAfter != 42*time.Second {
		t.Errorf("keys unavailable: RetryAfter = %v, want 42s", e.RetryAfter)
	}

	srv.FailCerts(accesstest.Healthy)
	clk.Advance(cfg.Keys.UnknownKeyCooldown)
	mustVerify(t, v, tok, "")
	// An invented kid fetches the set and starts the cool-down; inside it, a token issued
	// since the fetch may carry a key published since.
	_, err = v.Verify(ctx, srv.Mint(accesstest.Token{Email: "eve@example.com", KeyID: "invented", IssuedAt: clk.Now().Add(-time.Hour)}))
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonUnknownKey)
	clk.Advance(time.Second)
	_, err = v.Verify(ctx, srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: "maybe-new", IssuedAt: clk.Now()}))
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonUnknownKeyPending)
	if e := core.AsError(err); e.RetryAfter != 42*time.Second {
		t.Errorf("unknown key pending: RetryAfter = %v, want 42s", e.RetryAfter)
	}

	srv.FailIdentity(accesstest.Status500)
	_, err = v.Identity(ctx, tok)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
	if e := core.AsError(err); e.RetryAfter != 42*time.Second {
		t.Errorf("identity unavailable: RetryAfter = %v, want 42s", e.RetryAfter)
	}

	for _, tok := range []string{"", "a.b.c", srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other"}}), srv.ServiceToken("")} {
		_, err := v.Identity(ctx, tok)
		if e := core.AsError(err); e == nil || e.Code == core.CodeUnavailable || e.RetryAfter != 0 {
			t.Errorf("refusal %#v: want one with no RetryAfter", e)
		}
	}
}
