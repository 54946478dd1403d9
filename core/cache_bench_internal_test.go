package core

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/keyset"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
	"github.com/cfaccess/cfaccess/internal/token"
)

// The benchmarks of this file reach inside the caches: they fill them with more tokens than
// could be signed in a benchmark's time, and replay the cached path of the map-and-RWMutex
// cache that otter replaced, for a ratio measured in one run.

// accessLikeToken signs a token shaped as Access issues them (aud array, email, sub, type,
// identity_nonce, country, iat/nbf/exp over 24 hours), numbered n, with priv under kid "k".
func accessLikeToken(tb testing.TB, priv *rsa.PrivateKey, n int) string {
	tb.Helper()
	now := time.Now().Unix()
	enc := base64.RawURLEncoding.EncodeToString
	payload := fmt.Sprintf(`{"aud":["4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"],`+
		`"email":"user%d@example.com","exp":%d,"iat":%d,"nbf":%d,"iss":"http://127.0.0.1:9",`+
		`"type":"app","identity_nonce":"6ei69kawdKzMIAPF","sub":"7335d417-61da-459d-899c-0a01c76a%04d",`+
		`"country":"US"}`, n, now+86400, now, now, n%10000)
	return rs256.Sign(tb, priv, enc([]byte(`{"alg":"RS256","kid":"k","typ":"JWT"}`)), enc([]byte(payload)))
}

// benchVerifier is verifierWithKey with the given cache sizes, and its key.
func benchVerifier(tb testing.TB, tokens, identities int) (*Verifier, *rsa.PrivateKey) {
	tb.Helper()
	return verifierWithKey(tb, Config{Tokens: TokenConfig{CacheSize: tokens}, Identities: IdentityConfig{CacheSize: identities}})
}

// signingKey returns the key of v's set that signed the tokens of benchVerifier.
func signingKey(tb testing.TB, v *Verifier) *keyset.Key {
	tb.Helper()
	k, err := v.keys.Key(context.Background(), testKID, time.Now(), func() time.Time { return time.Time{} })
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// variant returns token with its last 11 characters replaced by a base64url rendering of n:
// a distinct token with a distinct cache key, for filling a cache without signing each one.
func variant(token string, n int) string {
	s := strconv.FormatInt(int64(n), 36)
	return token[:len(token)-11] + fmt.Sprintf("%011s", s)
}

// legacyCache is the cache this package had before otter, kept here for the comparison only:
// a map under an RWMutex, keyed by the whole token, read with the exact time.
type legacyCache struct {
	mu sync.RWMutex
	m  map[string]legacyEntry
}

type legacyEntry struct {
	caller *Caller
	key    *keyset.Key
}

// legacyCheck is the cached path of verification as it was.
func (v *Verifier) legacyCheck(c *legacyCache, token string) (*Claims, error) {
	if token == "" {
		return nil, errMissingToken
	}
	if len(token) > v.cfg.maxTokenSize {
		return nil, invalid(ReasonTooLarge, "the token is too large", nil)
	}
	now := v.cfg.now()
	v.keys.RefreshIfDue(now)
	c.mu.RLock()
	e, ok := c.m[token]
	c.mu.RUnlock()
	if !ok || e.key.Withdrawn() {
		return nil, invalid(ReasonSignature, "not cached", nil)
	}
	cl := e.caller.Claims
	if !now.Before(cl.ExpiresAt.Add(v.cfg.leeway)) {
		return nil, invalid(ReasonExpired, "the token has expired", nil)
	}
	if !cl.NotBefore.IsZero() && now.Before(cl.NotBefore.Add(-v.cfg.leeway)) {
		return nil, invalid(ReasonNotYetValid, "the token is not valid yet", nil)
	}
	return cl, nil
}

// BenchmarkCachedVerifyAgainstMap measures a cached verification against the same on the
// map-and-RWMutex cache this package used before, in alternating batches so that the load of
// a shared machine weighs on both alike. It reports both costs and new/old.
//
//	go test ./core -run '^$' -bench BenchmarkCachedVerifyAgainstMap -count 5
func BenchmarkCachedVerifyAgainstMap(b *testing.B) {
	v, priv := benchVerifier(b, DefaultTokenCacheSize, DefaultIdentityCacheSize)
	token := accessLikeToken(b, priv, 1)
	ctx := context.Background()
	caller, err := v.caller(ctx, token)
	if err != nil {
		b.Fatal(err)
	}
	old := &legacyCache{m: map[string]legacyEntry{caller.token: {caller: caller, key: signingKey(b, v)}}}
	request := string([]byte(token)) // a request's own copy, as a framework hands it over
	const batch = 1000
	var inNew, inOld time.Duration
	var batches int
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			if _, err := v.caller(ctx, request); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range batch {
			if _, err := v.legacyCheck(old, request); err != nil {
				b.Fatal(err)
			}
		}
		inNew, inOld = inNew+t1.Sub(t0), inOld+time.Since(t1)
		batches++
	}
	b.ReportMetric(float64(inNew.Nanoseconds())/float64(batches*batch), "new-ns/verify")
	b.ReportMetric(float64(inOld.Nanoseconds())/float64(batches*batch), "old-ns/verify")
	b.ReportMetric(float64(inNew)/float64(inOld), "new/old")
}

// legacyPut is the old cache's insertion: when full, a sweep of the whole map for stale
// entries (at most once a second), then arbitrary evictions, under the exclusive lock.
func (c *legacyCache) legacyPut(token string, e legacyEntry, now time.Time, size int, nextSweep *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[token]; !ok && len(c.m) >= size {
		if !now.Before(*nextSweep) {
			*nextSweep = now.Add(time.Second)
			for k, v := range c.m {
				if !now.Before(v.caller.Claims.ExpiresAt) || v.key.Withdrawn() {
					delete(c.m, k)
				}
			}
		}
		for k := range c.m {
			if len(c.m) < size {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[token] = e
}

// BenchmarkCacheFillReaderWait: while a writer puts 150 000 new tokens into a cache of
// 100 000 (filling it, then evicting), a reader verifies a cached token in a loop, and the
// longest single verification it saw is reported, with the 99.99th percentile: a cache that
// locks or sweeps the whole table on a write shows here. One iteration is one fill.
// map_rwmutex is the cache this package had before otter; no_writer is a writer that makes the
// same allocations into no cache, the floor that the machine's scheduling and the garbage
// collector set. Each runs with the garbage collector on, as in production, and off for the
// fill ("/gc_off"): on a machine of two cores, a collection's mark worker takes a core from
// the reader for milliseconds whatever the cache does, and only with it off does the cache's
// own part show. The writer puts tokens as fast as it can, far faster than a server, whose
// every new token costs an RSA check first; "/paced" makes that check before each put, as a
// server would, which fills the cache at the rate one core can verify new tokens.
//
//	go test ./core -run '^$' -bench BenchmarkCacheFillReaderWait -benchtime 3x
func BenchmarkCacheFillReaderWait(b *testing.B) {
	const size, writes = 100_000, 150_000
	_, priv := benchVerifier(b, 1, 1)
	hot := accessLikeToken(b, priv, 0)
	fill := make([]string, writes)
	for i := range fill {
		fill[i] = variant(hot, i+1)
	}
	ctx := context.Background()
	digest := sha256.Sum256([]byte(hot))
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"otter", "map_rwmutex", "no_writer", "otter/gc_off", "map_rwmutex/gc_off", "no_writer/gc_off", "otter/paced", "map_rwmutex/paced"} {
		bc, mode, _ := strings.Cut(name, "/")
		gcOff, paced := mode == "gc_off", mode == "paced"
		b.Run(name, func(b *testing.B) {
			waits := make([]time.Duration, 0, 1<<22) // a sample, for the percentile
			var longest time.Duration                // of every read
			var reads int
			for b.Loop() {
				b.StopTimer()
				v, _ := benchVerifier(b, size, 1)
				caller, err := v.caller(ctx, hot)
				if err != nil {
					b.Fatal(err)
				}
				key := signingKey(b, v)
				old := &legacyCache{m: map[string]legacyEntry{caller.token: {caller: caller, key: key}}}
				read := func() error { _, err := v.caller(ctx, hot); return err }
				write := func(tok string) {
					v.tokens.put(v, caller.Claims, tok, key)
				}
				var nextSweep time.Time
				switch bc {
				case "map_rwmutex":
					read = func() error {
						if _, err := v.legacyCheck(old, hot); err != nil { // evicted: verified and put again
							old.legacyPut(caller.token, legacyEntry{caller: caller, key: key}, time.Now(), size, &nextSweep)
						}
						return nil
					}
					write = func(tok string) {
						old.legacyPut(tok, legacyEntry{caller: caller, key: key}, time.Now(), size, &nextSweep)
					}
				case "no_writer":
					kept := make([]*cachedToken, 0, len(fill))
					write = func(tok string) { // the same allocations, into no cache
						kept = append(kept, &cachedToken{caller: Caller{Claims: caller.Claims, v: v, token: tok}, key: key})
					}
				}
				if paced {
					put := write
					write = func(tok string) {
						if rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, digest[:], sig) != nil {
							b.Error("the pacing check failed")
						}
						put(tok)
					}
				}
				runtime.GC()
				gcPercent := 100
				if gcOff {
					gcPercent = debug.SetGCPercent(-1)
				}
				b.StartTimer()

				var done atomic.Bool
				var wg sync.WaitGroup
				wg.Go(func() {
					defer done.Store(true)
					for _, tok := range fill {
						write(tok)
					}
				})
				for !done.Load() {
					t0 := time.Now()
					err := read()
					wait := time.Since(t0)
					longest, reads = max(longest, wait), reads+1
					if len(waits) < cap(waits) {
						waits = append(waits, wait)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
				if gcOff {
					b.StopTimer()
					debug.SetGCPercent(gcPercent)
					b.StartTimer()
				}
			}
			slices.Sort(waits)
			b.ReportMetric(float64(longest.Microseconds()), "max-wait-µs")
			b.ReportMetric(float64(waits[len(waits)*9999/10000].Microseconds()), "p99.99-wait-µs")
			b.ReportMetric(float64(reads)/float64(b.N), "reads/fill")
		})
	}
}

// BenchmarkCacheMemory fills both caches with n entries shaped as in production (an Access
// token of ~850 bytes, its claims, and a get-identity document of ~1.7 KB) and reports the
// heap each entry takes. The identity entries share the token entries' copy of the token, as
// they do when a Caller looks up its identity.
//
//	go test ./core -run '^$' -bench BenchmarkCacheMemory -benchtime 1x
func BenchmarkCacheMemory(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				v, priv := benchVerifier(b, n, n)
				tok := accessLikeToken(b, priv, 1)
				var p token.Parsed
				if err := p.Parse(tok); err != nil {
					b.Fatal(err)
				}
				payload, err := p.Verify(&priv.PublicKey)
				if err != nil {
					b.Fatal(err)
				}
				key := signingKey(b, v)
				tokens := make([]string, n)
				for i := range tokens {
					tokens[i] = variant(tok, i)
				}
				heap := func() uint64 {
					runtime.GC()
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					return m.HeapAlloc
				}
				before := heap()
				callers := make([]*Caller, n)
				for i := range n {
					raw := bytes.Clone(payload)
					tc, err := token.DecodeClaims(raw)
					if err != nil {
						b.Fatal(err)
					}
					callers[i] = v.tokens.put(v, v.claims(tc, raw), string([]byte(tokens[i])), key)
				}
				mid := heap()
				v.identities.load = func(context.Context, string, time.Time) (*Identity, time.Time, error) {
					id, err := decodeIdentity([]byte(identityDocument))
					return id, time.Time{}, err
				}
				exp := time.Now().Add(time.Hour)
				for _, c := range callers {
					v.identities.fetch(context.Background(), c.token, exp)
				}
				callers = nil
				after := heap()
				runtime.KeepAlive(tokens)
				if v.tokens.len() != n || v.identities.len() != n {
					b.Fatalf("cached %d tokens and %d identities, want %d", v.tokens.len(), v.identities.len(), n)
				}
				b.ReportMetric(float64(mid-before)/float64(n), "B/token")
				b.ReportMetric(float64(after-mid)/float64(n), "B/identity")
				runtime.KeepAlive(v)
			}
		})
	}
}

// identityDocument is a get-identity answer of a user of an identity provider with groups
// and a device, as Access sends it.
const identityDocument = `{"id":"P51Tuu01fWHMBjIBvrCK1lK-eUDWs2aQMv03WDqT5oY","name":"Ann Smith",` +
	`"email":"ann.smith@example.com","amr":["pwd","mfa"],"oidc_fields":{"principalName":"ann.smith@example.com"},` +
	`"groups":[{"id":"1a2b3c4d-0000-4000-8000-000000000001","name":"staff","email":"staff@example.com"},` +
	`{"id":"1a2b3c4d-0000-4000-8000-000000000002","name":"admins","email":"admins@example.com"},` +
	`{"id":"1a2b3c4d-0000-4000-8000-000000000003","name":"engineering","email":"engineering@example.com"}],` +
	`"idp":{"id":"b3c7a1d2-5e6f-4a8b-9c0d-1e2f3a4b5c6d","type":"azureAD"},"geo":{"country":"US"},` +
	`"user_uuid":"7335d417-61da-459d-899c-0a01c76a0001","account_id":"121287a0c6e6260ec930655e6b39a3a8",` +
	`"iat":1700000000,"ip":"203.0.113.7","auth_status":"NONE","common_name":"","service_token_id":"",` +
	`"service_token_status":false,"is_warp":false,"is_gateway":false,"version":2,` +
	`"device_sessions":{},"devicePosture":{"f7b5c7f4-1111-4222-8333-444455556666":{"id":"f7b5c7f4-1111-4222-8333-444455556666",` +
	`"schedule":"5m","timestamp":"2024-01-01T00:00:00.000Z","description":"disk encryption","type":"disk_encryption",` +
	`"check":{"drives":["C"]},"success":true,"rule_name":"Encrypted disk","input":{"requireAll":true}}},` +
	`"custom":{"department":"Engineering","employee_id":"E12345"}}`
