package core

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// TestVerifiedTokensAreOwned: frameworks such as fasthttp hand out strings that alias buffers
// they reuse for the next request. What outlives the request, the cache's key and the
// Caller's token, must be a copy, or the next request would rewrite them.
func TestVerifiedTokensAreOwned(t *testing.T) {
	v, token := verifierWithKey(t)
	buf := []byte(token)
	aliased := unsafe.String(&buf[0], len(buf))
	_, caller, _, err := v.check(context.Background(), aliased)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf { // the framework reuses its buffer
		buf[i] = 'X'
	}
	if caller.token != token {
		t.Fatal("the Caller's token was rewritten through the framework's buffer")
	}
	if v.cache.get(token) == nil {
		t.Fatal("the cached token was rewritten through the framework's buffer")
	}
}

// TestClockNearDeadlines: the coarse clock decides only far from a deadline; near one, the
// exact time does. Wherever the coarse clock is within clockGuard of the exact time (a tick
// late, a held-up ticker, a stepped system clock), deadlines hold to the nanosecond.
func TestClockNearDeadlines(t *testing.T) {
	exact := time.Unix(1_000_000, 0)
	c := &clock{now: func() time.Time { return exact }}
	deadline := exact.UnixNano()
	for _, coarse := range []time.Time{exact.Add(-clockGuard + 1), exact.Add(-clockTick), exact, exact.Add(clockGuard - 1)} {
		c.coarse.Store(coarse.UnixNano())
		if c.before(deadline) {
			t.Errorf("coarse %v: before(now) = true", coarse.Sub(exact))
		}
		if !c.before(deadline + 1) {
			t.Errorf("coarse %v: before(now+1ns) = false", coarse.Sub(exact))
		}
		if !c.reached(deadline) || c.reached(deadline+1) {
			t.Errorf("coarse %v: reached(now), reached(now+1ns) = %v, %v", coarse.Sub(exact), c.reached(deadline), c.reached(deadline+1))
		}
	}
	// Far from a deadline, the exact time is not read at all.
	c.now = func() time.Time { t.Fatal("read the exact time far from any deadline"); return time.Time{} }
	c.coarse.Store(deadline)
	if !c.before(deadline+int64(2*clockGuard)) || !c.reached(deadline-int64(2*clockGuard)) {
		t.Error("far from the deadline, the coarse time decides wrongly")
	}
}

// TestClockTicks: without Config.Now the coarse clock follows the wall clock.
func TestClockTicks(t *testing.T) {
	c := newClock(time.Now, false)
	first := c.NowNano()
	deadline := time.Now().Add(5 * time.Second)
	for c.NowNano() == first {
		if time.Now().After(deadline) {
			t.Fatal("the coarse clock never ticked")
		}
		time.Sleep(clockTick)
	}
	if d := time.Duration(time.Now().UnixNano() - c.NowNano()); d < 0 || d > time.Second {
		t.Errorf("coarse clock is %v behind", d)
	}
}

// verifierWithKey returns a verifier that trusts one key, put in place by hand (no team
// domain answers), and a token that key signed.
func verifierWithKey(t *testing.T) (*Verifier, string) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{TeamDomain: "http://127.0.0.1:9", Audiences: []string{"aud"}, StartupWait: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	v.keys.set.Store(&map[string]*signingKey{"k": {kid: "k", pub: &priv.PublicKey}})
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(`{"iss":"http://127.0.0.1:9","aud":"aud","sub":"u","exp":`+
		strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)+`}`))
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return v, input + "." + enc(sig)
}
