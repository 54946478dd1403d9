package bench_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// accessToken mints the token every benchmark verifies: RS256 with a 2048-bit key, shaped as
// Access issues them for a user (aud array, email, sub, type, identity_nonce, country,
// iat/nbf/exp over a 24-hour session).
func accessToken(team *accesstest.Server) string {
	return team.Mint(accesstest.Token{Email: "ann.smith@example.com", Country: "US", ExpiresAt: time.Now().Add(24 * time.Hour)})
}

func quietVerifier(tb testing.TB, cfg core.Config) *core.Verifier {
	tb.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := core.NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// BenchmarkVerifiers verifies one Access token with cfaccess and with each peer, configured
// as their documentation wires them, after a first call has loaded the keys. rsa_baseline is
// the bare crypto/rsa PKCS#1 v1.5 SHA-256 check of the same token: the floor of any verifier
// that checks the signature.
func BenchmarkVerifiers(b *testing.B) {
	team := testkit.NewTeam(b)
	token := accessToken(team)
	certs := team.URL + "/cdn-cgi/access/certs"
	ctx := context.Background()

	run := func(b *testing.B, verify func() error) {
		b.Helper()
		if err := verify(); err != nil { // loads the keys
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := verify(); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.Run("rsa_baseline", func(b *testing.B) {
		i := strings.LastIndexByte(token, '.')
		sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
		if err != nil {
			b.Fatal(err)
		}
		pub := team.PublicKey(team.CurrentKeyID())
		run(b, func() error {
			digest := sha256.Sum256([]byte(token[:i]))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
		})
	})

	b.Run("cfaccess_cached", func(b *testing.B) {
		v := quietVerifier(b, team.Config())
		run(b, func() error { _, err := v.Verify(ctx, token); return err })
	})

	b.Run("cfaccess_uncached", func(b *testing.B) {
		cfg := team.Config()
		cfg.Tokens.CacheSize = core.None
		v := quietVerifier(b, cfg)
		run(b, func() error { _, err := v.Verify(ctx, token); return err })
	})

	// golang-jwt v5 with keyfunc v3, the pairing golang-jwt's README points to.
	b.Run("golang-jwt_keyfunc", func(b *testing.B) {
		k, err := keyfunc.NewDefaultCtx(ctx, []string{certs})
		if err != nil {
			b.Fatal(err)
		}
		parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(team.URL),
			jwt.WithAudience(team.AUD), jwt.WithExpirationRequired())
		run(b, func() error { _, err := parser.Parse(token, k.Keyfunc); return err })
	})

	// coreos/go-oidc, which Cloudflare's own Go example uses.
	b.Run("go-oidc", func(b *testing.B) {
		keys := oidc.NewRemoteKeySet(ctx, certs)
		verifier := oidc.NewVerifier(team.URL, keys, &oidc.Config{ClientID: team.AUD})
		run(b, func() error { _, err := verifier.Verify(ctx, token); return err })
	})

	// auth0/go-jwt-middleware's validator (v2: v3 is not published on the module proxy).
	b.Run("go-jwt-middleware", func(b *testing.B) {
		issuer, _ := url.Parse(team.URL)
		jwksURI, _ := url.Parse(certs)
		provider := jwks.NewCachingProvider(issuer, time.Hour, jwks.WithCustomJWKSURI(jwksURI))
		v, err := validator.New(provider.KeyFunc, validator.RS256, team.URL, []string{team.AUD})
		if err != nil {
			b.Fatal(err)
		}
		run(b, func() error { _, err := v.ValidateToken(ctx, token); return err })
	})
}
