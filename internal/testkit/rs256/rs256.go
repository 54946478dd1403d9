// Package rs256 makes what tests that stand in for Access by hand need: RSA keys, their
// JSON Web Keys, and RS256 tokens signed over segments exactly as given, malformed ones
// included. It imports nothing of this repository, so that the internal tests of any of its
// packages may use it.
package rs256

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
)

var b64 = base64.RawURLEncoding

// keys are made once per test binary, at first use: each costs a tenth of a second.
var keys struct {
	sync.Mutex
	made map[int]*rsa.PrivateKey
}

// Key returns the i-th RSA key of 2048 bits of the test binary: the same key for the same i,
// a different one for another.
func Key(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	return cached(t, i, 2048)
}

// WeakKey returns the test binary's RSA key of 1024 bits, too weak for a verifier to use.
func WeakKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	return cached(t, -1, 1024)
}

func cached(t testing.TB, i, bits int) *rsa.PrivateKey {
	t.Helper()
	keys.Lock()
	defer keys.Unlock()
	if k, ok := keys.made[i]; ok {
		return k
	}
	k := NewKey(t, bits)
	if keys.made == nil {
		keys.made = make(map[int]*rsa.PrivateKey)
	}
	keys.made[i] = k
	return k
}

// NewKey makes a new RSA key of bits bits.
func NewKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("generating an RSA key: %v", err)
	}
	return k
}

// JWK is pub as a JSON Web Key for RS256 signatures, as Access publishes its keys, under
// kid (none when empty).
func JWK(kid string, pub *rsa.PublicKey) map[string]any {
	m := map[string]any{
		"kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b64.EncodeToString(pub.N.Bytes()),
		"e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

// Segment is v as JSON, encoded as a token's header or payload: base64url without padding.
func Segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding a segment: %v", err)
	}
	return b64.EncodeToString(b)
}

// Sign returns the token of the segments header and payload, as they are, signed with k.
func Sign(t testing.TB, k *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := header + "." + payload
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return input + "." + b64.EncodeToString(sig)
}
