package core_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// BenchmarkVerify compares a full verification (uncached), a repeated token (cached) and the
// bare RSA PKCS#1 v1.5 SHA-256 check of the same token, the floor of any verifier.
func BenchmarkVerify(b *testing.B) {
	srv := accesstest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	token := srv.Mint(realistic("ann@example.com"))

	b.Run("uncached", func(b *testing.B) {
		cfg := srv.Config()
		cfg.TokenCacheSize = -1
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		v := mustVerifier(b, cfg)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		cfg := srv.Config()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		v := mustVerifier(b, cfg)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rsa_baseline", func(b *testing.B) {
		i := strings.LastIndexByte(token, '.')
		sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
		if err != nil {
			b.Fatal(err)
		}
		pub := srv.PublicKey(srv.KeyIDs()[0])
		b.ReportAllocs()
		for b.Loop() {
			digest := sha256.Sum256([]byte(token[:i]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func realistic(email string) accesstest.Token {
	return accesstest.Token{Email: email, Country: "US", ExpiresAt: time.Now().Add(24 * time.Hour)}
}

func mustVerifier(tb testing.TB, cfg core.Config) *core.Verifier {
	tb.Helper()
	v, err := core.NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
