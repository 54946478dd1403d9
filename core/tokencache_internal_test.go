package core

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/cfaccess/cfaccess/internal/clock"
	"github.com/cfaccess/cfaccess/internal/teamclient"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

// The tests of this file reach inside the verifier: to give its token cache a clock of
// their own, and to read its caches. Its key set comes from no team domain: the verifier's
// client answers the certs endpoint itself.

const (
	testTeam = "http://127.0.0.1:9" // nothing answers there: no request leaves the process
	testKID  = "k"
	testAUD  = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"
)

// certsOnly answers a request for the certs endpoint with its key set document, and fails
// every other request at once.
type certsOnly []byte

func (doc certsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path != teamclient.CertsPath {
		return nil, errors.New("no network in this test")
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(doc)), ContentLength: int64(len(doc)), Request: r}, nil
}

// verifierWithKey returns a verifier of testTeam and testAUD, made from cfg (whose team,
// audience, client and logger it sets), whose client serves it a key set of one key under
// testKID; and that key.
func verifierWithKey(tb testing.TB, cfg Config) (*Verifier, *rsa.PrivateKey) {
	tb.Helper()
	priv := rs256.Key(tb, 0)
	doc, err := json.Marshal(map[string]any{"keys": []any{rs256.JWK(testKID, &priv.PublicKey)}})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.TeamDomain, cfg.Audiences = testTeam, []string{testAUD}
	cfg.HTTPClient = &http.Client{Transport: certsOnly(doc)}
	cfg.Keys.StartupWait = time.Minute // the first fetch, which cannot fail, on a busy machine
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if st := v.keys.Stats(); st.Err != nil || len(st.KIDs) != 1 {
		tb.Fatalf("key set %+v", st)
	}
	return v, priv
}

// signToken signs claims under testKID with priv; iss and aud default to testTeam and
// testAUD.
func signToken(tb testing.TB, priv *rsa.PrivateKey, claims map[string]any) string {
	tb.Helper()
	full := map[string]any{"iss": testTeam, "aud": []string{testAUD}, "sub": "u"}
	for k, v := range claims {
		full[k] = v
	}
	return rs256.Sign(tb, priv, rs256.Segment(tb, map[string]string{"alg": "RS256", "kid": testKID, "typ": "JWT"}), rs256.Segment(tb, full))
}

// TestVerifiedTokensAreOwned: frameworks such as fasthttp hand out strings that alias buffers
// they reuse for the next request. What outlives the request, the cache's key and the
// Caller's token, must be a copy, or the next request would rewrite them.
func TestVerifiedTokensAreOwned(t *testing.T) {
	v, priv := verifierWithKey(t, Config{})
	token := signToken(t, priv, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
	buf := []byte(token)
	aliased := unsafe.String(&buf[0], len(buf))
	caller, err := v.caller(context.Background(), aliased)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf { // the framework reuses its buffer
		buf[i] = 'X'
	}
	if caller.token != token {
		t.Fatal("the Caller's token was rewritten through the framework's buffer")
	}
	if v.tokens.get(token) == nil {
		t.Fatal("the cached token was rewritten through the framework's buffer")
	}
}

// TestCachedTokenTimes: every cache hit checks the token's exp + leeway and nbf - leeway
// again, with the exact time, whatever the cache's own expiry says. Here the cache reads a
// clock one coarse tick behind the verifier's, as a cache on the coarse clock may, so that
// it still holds the entry when the token expires: the verifier's own check must refuse it.
func TestCachedTokenTimes(t *testing.T) {
	const leeway = 20 * time.Second
	var now atomic.Int64 // the exact time, UnixNano
	exact := func() time.Time { return time.Unix(0, now.Load()) }
	base := time.Now().Truncate(time.Second)
	now.Store(base.UnixNano())
	v, priv := verifierWithKey(t, Config{Now: exact, Tokens: TokenConfig{Leeway: leeway}})
	behind := clock.New(func() time.Time { return exact().Add(-clock.Interval) }, true)
	v.tokens = newTokenCache(DefaultTokenCacheSize, behind)
	ctx := context.Background()
	at := func(t time.Time) { now.Store(t.UnixNano()) }
	// lookup verifies tok at t and checks it was answered from the cache.
	lookup := func(tok string, t time.Time) error {
		at(t)
		before := v.tokens.stats.snapshot()
		_, err := v.Verify(ctx, tok)
		if after := v.tokens.stats.snapshot(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
			return errors.New("not answered from the cache")
		}
		return err
	}
	want := func(what string, err error, reason Reason) {
		t.Helper()
		var e *Error
		switch {
		case reason == "" && err != nil:
			t.Errorf("%s: %v, want the cached token", what, err)
		case reason != "" && (!errors.As(err, &e) || e.Code != CodeInvalidToken || e.Reason != reason):
			t.Errorf("%s: %v, want %s from the cache", what, err, reason)
		}
	}

	exp := base.Add(time.Minute)
	expiring := signToken(t, priv, map[string]any{"iat": base.Unix(), "exp": exp.Unix()})
	if _, err := v.Verify(ctx, expiring); err != nil {
		t.Fatal(err)
	}
	want("1 ms before exp + leeway", lookup(expiring, exp.Add(leeway-time.Millisecond)), "")
	want("1 ms past exp + leeway", lookup(expiring, exp.Add(leeway+time.Millisecond)), ReasonExpired)
	if v.tokens.get(expiring) != nil {
		t.Error("the expired token is still cached")
	}

	nbf := base.Add(time.Hour)
	early := signToken(t, priv, map[string]any{"nbf": nbf.Unix(), "exp": nbf.Add(time.Hour).Unix()})
	at(nbf)
	if _, err := v.Verify(ctx, early); err != nil {
		t.Fatal(err)
	}
	// The clock steps back, as NTP corrections make it.
	want("at nbf - leeway", lookup(early, nbf.Add(-leeway)), "")
	want("1 ms after nbf - leeway", lookup(early, nbf.Add(-leeway+time.Millisecond)), "")
	want("1 ms before nbf - leeway", lookup(early, nbf.Add(-leeway-time.Millisecond)), ReasonNotYetValid)
}

// TestClockNearDeadlines: the coarse clock decides only far from a deadline; near one, the
// exact time does. Wherever the coarse clock is within clock.Guard of the exact time (a tick
// late, a held-up ticker, a stepped system clock), deadlines hold to the nanosecond.
//
// The coarse clock ticks on its own; each check reads it before and after, and is made
// again in the rare case a tick came in between.
func TestClockNearDeadlines(t *testing.T) {
	var exact atomic.Int64 // UnixNano
	var exactReads atomic.Int64
	c := clock.New(func() time.Time { exactReads.Add(1); return time.Unix(0, exact.Load()) }, false)
	stable := func(check func(coarse int64) []string) {
		t.Helper()
		for range 1000 {
			coarse := c.NowNano()
			errs := check(coarse)
			if c.NowNano() != coarse {
				continue // a tick came in between
			}
			for _, e := range errs {
				t.Error(e)
			}
			return
		}
		t.Fatal("the coarse clock ticked during every attempt")
	}
	for _, off := range []time.Duration{-clock.Guard + 1, -clock.Interval, 0, clock.Interval, clock.Guard - 1} {
		stable(func(coarse int64) (errs []string) {
			// The exact time is off ahead of the coarse time; the deadline is the exact time.
			deadline := coarse + int64(off)
			exact.Store(deadline)
			if c.Before(deadline) {
				errs = append(errs, "coarse "+(-off).String()+": Before(now) = true")
			}
			if !c.Before(deadline + 1) {
				errs = append(errs, "coarse "+(-off).String()+": Before(now+1ns) = false")
			}
			if !c.Reached(deadline) || c.Reached(deadline+1) {
				errs = append(errs, "coarse "+(-off).String()+": Reached(now) false or Reached(now+1ns) true")
			}
			return errs
		})
	}
	// Far from a deadline, the exact time is not read at all.
	stable(func(coarse int64) (errs []string) {
		exact.Store(coarse)
		reads := exactReads.Load()
		if !c.Before(coarse+int64(2*clock.Guard)) || !c.Reached(coarse-int64(2*clock.Guard)) {
			errs = append(errs, "far from the deadline, the coarse time decides wrongly")
		}
		if exactReads.Load() != reads {
			errs = append(errs, "read the exact time far from any deadline")
		}
		return errs
	})
}

// TestClockTicks: a coarse clock follows the wall clock; a precise one is the clock it is
// given.
func TestClockTicks(t *testing.T) {
	c := clock.New(time.Now, false)
	first := c.NowNano()
	deadline := time.Now().Add(10 * time.Second)
	for c.NowNano() == first {
		if time.Now().After(deadline) {
			t.Fatal("the coarse clock never ticked")
		}
		time.Sleep(clock.Interval)
	}
	// Within a tick of the wall clock, unless the machine holds the ticker up: then soon.
	for {
		lag := time.Duration(time.Now().UnixNano() - c.NowNano())
		if lag >= 0 && lag < clock.Guard {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coarse clock is %v behind", lag)
		}
		time.Sleep(clock.Interval)
	}

	fixed := time.Unix(1_000_000, 5)
	p := clock.New(func() time.Time { return fixed }, true)
	if p.NowNano() != fixed.UnixNano() || !p.Before(fixed.UnixNano()+1) || p.Before(fixed.UnixNano()) ||
		!p.Reached(fixed.UnixNano()) || p.Reached(fixed.UnixNano()+1) {
		t.Error("a precise clock does not read the clock it is given")
	}
}
