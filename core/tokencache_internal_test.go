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
	if _, ok := v.cache.get(token); !ok {
		t.Fatal("the cached token was rewritten through the framework's buffer")
	}
}

func TestTokenCacheEvictsWithdrawnFirst(t *testing.T) {
	c := newTokenCache(2, 0)
	now := time.Now()
	live, gone := &signingKey{}, &signingKey{}
	entry := func(token string, key *signingKey) cacheEntry {
		return cacheEntry{caller: &Caller{Claims: &Claims{ExpiresAt: now.Add(time.Hour)}, token: token}, key: key}
	}
	c.put(entry("a", live), now)
	c.put(entry("b", gone), now)
	gone.withdrawn.Store(true)
	c.put(entry("c", live), now)
	if _, ok := c.get("a"); !ok {
		t.Error("a live entry was evicted while a withdrawn one could go")
	}
	if _, ok := c.get("b"); ok {
		t.Error("the withdrawn entry survived")
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
