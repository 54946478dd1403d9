package core_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// BenchmarkVerify compares a full verification (uncached: the cache is off), a token seen
// again (cached), and the bare RSA PKCS#1 v1.5 SHA-256 check of the same token, the floor of
// any verifier; uncached_over_rsa reports the first over the last, measured side by side.
// Read them as ratios within one run:
//
//	go test ./core -run '^$' -bench BenchmarkVerify -benchmem -count 10
func BenchmarkVerify(b *testing.B) {
	srv := testkit.NewTeam(b)
	ctx := context.Background()
	// A realistic Access user token: one audience, e-mail, nonce, country, 24 h life.
	token := srv.Mint(accesstest.Token{Email: "ann.smith@example.com", Country: "US", ExpiresAt: time.Now().Add(24 * time.Hour)})

	b.Run("uncached", func(b *testing.B) {
		cfg := testkit.Config(srv, nil)
		cfg.Tokens.CacheSize = core.None
		v := testkit.NewVerifier(b, cfg)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		v := testkit.Verifier(b, srv)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	i := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := srv.PublicKey(srv.KeyIDs()[0])
	rsaCheck := func() error {
		digest := sha256.Sum256([]byte(token[:i]))
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	}
	b.Run("rsa_baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := rsaCheck(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// On a shared machine the load drifts between sub-benchmarks run one after the other;
	// this one alternates an uncached verification and the bare check in the same loop and
	// reports the ratio of their total times, which drift cannot skew.
	b.Run("uncached_over_rsa", func(b *testing.B) {
		cfg := testkit.Config(srv, nil)
		cfg.Tokens.CacheSize = core.None
		v := testkit.NewVerifier(b, cfg)
		var inVerify, inRSA time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := rsaCheck(); err != nil {
				b.Fatal(err)
			}
			inVerify, inRSA = inVerify+t1.Sub(t0), inRSA+time.Since(t1)
		}
		b.ReportMetric(float64(inVerify)/float64(inRSA), "ratio")
	})
}

// BenchmarkVerifyParallel is the cached path from every core; run it with -cpu 1,2,….
func BenchmarkVerifyParallel(b *testing.B) {
	srv, v := testkit.TeamVerifier(b)
	token := srv.User("ann@example.com")
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthenticate is the verifier's part of a decision on a warm cache: cached
// verification, the Caller, and the policy (its identity lookup from the cache for groups).
// A middleware adds the reading of the request to it (BenchmarkGuard, in core/adapter).
//
//	go test ./core -run '^$' -bench BenchmarkAuthenticate -benchmem
func BenchmarkAuthenticate(b *testing.B) {
	srv, v := testkit.TeamVerifier(b)
	token := srv.User("ann@example.com", "staff", "admins")
	for _, bc := range []struct {
		name   string
		policy *core.Policy
	}{
		{"no_policy", nil},
		{"email_domain_policy", ptr(core.EmailDomains("example.com"))},
		{"group_policy", ptr(core.Groups("admins"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchDecision(b, v, token, "app.example.com", bc.policy)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// benchDecision measures the verifier's part of a decision: v authenticates token for host,
// then holds the caller to policy, when not nil. The decision must allow.
func benchDecision(b *testing.B, v *core.Verifier, token, host string, policy *core.Policy) {
	ctx := context.Background()
	decide := func() bool {
		c, err := v.Authenticate(ctx, token, host)
		if err != nil {
			return false
		}
		if policy == nil {
			return true
		}
		ok, _ := policy.Allow(ctx, c)
		return ok
	}
	if !decide() {
		b.Fatal("refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !decide() {
			b.Fatal("refused")
		}
	}
}

// BenchmarkAuthenticateParallel is the verifier's part of a decision on a warm cache, with a
// group policy (so both caches are read), from every core. Run it with -cpu 1,2,…: a cached
// decision takes no lock, so throughput should grow with the cores.
//
//	go test ./core -run '^$' -bench 'Parallel' -cpu 1,2
func BenchmarkAuthenticateParallel(b *testing.B) {
	srv, v := testkit.TeamVerifier(b)
	token := srv.User("ann@example.com", "staff", "admins")
	admins := core.Groups("admins")
	decide := func(ctx context.Context) bool {
		c, err := v.Authenticate(ctx, token, "app.example.com")
		if err != nil {
			return false
		}
		ok, _ := admins.Allow(ctx, c)
		return ok
	}
	if !decide(context.Background()) {
		b.Fatal("refused")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if !decide(ctx) {
				b.Error("refused")
				return
			}
		}
	})
}

// BenchmarkForgeries measures what an attacker who reaches the origin directly makes it
// spend on a forgery, against a plain forgery under a known kid (one RSA check, the cost
// no verifier can avoid). Each case alternates with the plain one in the same loop and
// reports the ratio of their times (x_plain), so that the load of a shared machine cannot
// favour either; the padded payload also reports its ratio over the plain forgery plus the
// SHA-256 of its own signing input (x_plain_sha256), the one cost it may add.
//
//	go test ./core -run '^$' -bench BenchmarkForgeries -count 5
func BenchmarkForgeries(b *testing.B) {
	srv := testkit.NewTeam(b)
	cfg := testkit.Config(srv, nil)
	cfg.Keys.UnknownKeyCooldown = time.Hour // no fetch inside the loop: the cost is the verifier's own
	v := testkit.NewVerifier(b, cfg)
	ctx := context.Background()
	valid := srv.Mint(accesstest.Token{Email: "ann.smith@example.com", Country: "US", ExpiresAt: time.Now().Add(24 * time.Hour)})
	h, p, s := testkit.Segments(b, valid)
	kid := srv.CurrentKeyID()
	sig, _ := b64.DecodeString(s)
	sig[len(sig)/2] ^= 1
	s = b64.EncodeToString(sig)
	plain := h + "." + p + "." + s

	// pad fills a JSON object's last member, a string of escapes, until the token it goes
	// into, with rest bytes besides, reaches the size limit.
	pad := func(open string, rest int, close string) string {
		room := (core.DefaultMaxTokenSize-rest)*3/4 - len(open) - len(close)
		return open + strings.Repeat(`\ud83d\ude00`, room/12) + close
	}
	payload, _ := b64.DecodeString(p)
	paddedPayload := func(kidHeader string) string {
		var iat struct{ Iat int64 }
		_ = json.Unmarshal(payload, &iat)
		// The iat comes last, so that reading it means reading everything before it.
		obj := pad(string(payload[:len(payload)-1])+`,"x":"`, len(kidHeader)+len(s)+2, `","iat":`+strconv.FormatInt(iat.Iat, 10)+`}`)
		return kidHeader + "." + b64.EncodeToString([]byte(obj)) + "." + s
	}
	header := func(kid string) string {
		return b64.EncodeToString([]byte(`{"alg":"RS256","kid":"` + kid + `","typ":"JWT"}`))
	}
	cases := []struct {
		name, token string
		reason      core.Reason
	}{
		{"plain", plain, core.ReasonSignature},
		{"padded_header", b64.EncodeToString([]byte(pad(`{"alg":"RS256","kid":"`+kid+`","x":"`, len(p)+len(s)+2, `"}`))) + "." + p + "." + s, ""},
		{"header_of_tiny_strings", b64.EncodeToString([]byte(`{"alg":"RS256","kid":"`+kid+`","x":[`+strings.Repeat(`"",`, (core.DefaultMaxTokenSize-len(p)-len(s))*3/4/3-40)+`""]}`)) + "." + p + "." + s, ""},
		{"invented_kid_padded_payload", paddedPayload(header("invented")), core.ReasonUnknownKey},
		{"known_kid_padded_payload", paddedPayload(header(kid)), core.ReasonSignature},
	}
	for _, c := range cases {
		if len(c.token) > core.DefaultMaxTokenSize {
			b.Fatalf("%s: %d bytes, over the limit", c.name, len(c.token))
		}
		_, err := v.Verify(ctx, c.token) // the invented kid's one fetch happens here
		testkit.WantCode(b, err, core.CodeInvalidToken, c.reason)
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			input := []byte(c.token[:strings.LastIndexByte(c.token, '.')])
			var inCase, inPlain, inSHA time.Duration
			for b.Loop() {
				t0 := time.Now()
				_, _ = v.Verify(ctx, c.token)
				t1 := time.Now()
				_, _ = v.Verify(ctx, plain)
				t2 := time.Now()
				sha256.Sum256(input)
				t3 := time.Now()
				inCase, inPlain, inSHA = inCase+t1.Sub(t0), inPlain+t2.Sub(t1), inSHA+t3.Sub(t2)
			}
			b.ReportMetric(float64(inCase)/float64(b.N), "case-ns/op")
			b.ReportMetric(float64(inCase)/float64(inPlain), "x_plain")
			b.ReportMetric(float64(inCase)/float64(inPlain+inSHA), "x_plain_sha256")
		})
	}
}
