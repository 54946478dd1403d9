// Command fiber is a fiber server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/fiber
package main

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gofiber/fiber/v3"
	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/redisstore"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
	"github.com/cfaccess/cfaccess/fiberaccess"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	teamDomain, audiences := os.Getenv("CF_ACCESS_TEAM_DOMAIN"), os.Getenv("CF_ACCESS_AUD")
	var team *demo.Team
	if _, set := os.LookupEnv("CF_ACCESS_TEAM_DOMAIN"); !set {
		// Demo mode: a fake team domain on loopback supplies both values. It never starts
		// once CF_ACCESS_TEAM_DOMAIN is set, even to something wrong.
		team = demo.StartTeam()
		defer team.Close()
		teamDomain, audiences = team.TeamDomain, team.AUD
	}
	v, err := newVerifier(teamDomain, audiences)
	if err != nil {
		return err
	}
	adminGroup := cmp.Or(strings.TrimSpace(os.Getenv("ADMIN_GROUP")), "admins")
	addr := cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080")

	// Access sends the token twice, as a header and as a cookie: a few KB with SAML
	// attributes, beyond fiber's 4 KiB default read buffer, which would answer 431. Room for
	// twice the largest token the verifier reads (Config.MaxTokenSize, here the default) and
	// the other headers:
	app := fiber.New(fiber.Config{ReadBufferSize: core.MaxHeaderBytes(0)})
	app.Get("/healthz", func(c fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	// On the routes rather than app.Use, so that /healthz and unknown paths (404) stay public.
	auth := fiberaccess.Middleware(v)
	app.Get("/whoami", auth, func(c fiber.Ctx) error {
		claims, _ := fiberaccess.Claims(c)
		// Raw is the verified payload, already JSON, with the token's own field names
		// (email, sub, common_name, aud…): no need to encode it again.
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(claims.Raw)
	})
	app.Get("/me", auth, func(c fiber.Ctx) error {
		id, err := fiberaccess.Identity(c) // get-identity, once per token, cached
		if err != nil {
			return fiberaccess.WriteError(c, err) // 403 for a service token, 503 if Access is down
		}
		return c.JSON(id)
	})
	app.Get("/admin", auth, fiberaccess.RequireGroups(adminGroup), func(c fiber.Ctx) error {
		claims, _ := fiberaccess.Claims(c)
		return c.JSON(fiber.Map{"admin": true, "email": claims.Email})
	})

	ln, err := demo.Listen(os.Stdout, "fiber", addr, team, adminGroup)
	if err != nil {
		return err
	}
	// demo.Listen has said where the server listens; fiber's banner would say it again.
	cfg := fiber.ListenConfig{DisableStartupMessage: true}
	return demo.Serve(func() error { return app.Listener(ln, cfg) }, app.ShutdownWithContext)
}

// newVerifier is the production wiring: which Access application to trust, from the
// environment, as a core.Config. Its errors name the variable to fix.
func newVerifier(teamDomain, audiences string) (*core.Verifier, error) {
	var auds []string
	for aud := range strings.SplitSeq(audiences, ",") {
		if aud = strings.TrimSpace(aud); aud != "" {
			auds = append(auds, aud)
		}
	}
	switch {
	case strings.TrimSpace(teamDomain) == "":
		return nil, errors.New("CF_ACCESS_TEAM_DOMAIN is empty: set it to your team domain, e.g. myteam.cloudflareaccess.com")
	case len(auds) == 0:
		return nil, errors.New("CF_ACCESS_AUD is empty: set it to your application's AUD tag (several: comma-separated)")
	}
	cfg := core.Config{TeamDomain: teamDomain, Audiences: auds}
	if err := identityStore(&cfg); err != nil {
		return nil, err
	}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		return nil, fmt.Errorf("CF_ACCESS_TEAM_DOMAIN or CF_ACCESS_AUD: %w", err)
	}
	return v, nil
}

// identityStore is the wiring of several instances: with CF_ACCESS_REDIS_URL and
// CF_ACCESS_CACHE_KEY set, they share get-identity answers through Redis, one call per token
// for the whole fleet. Its errors name the variable to fix.
func identityStore(cfg *core.Config) error {
	url, key := strings.TrimSpace(os.Getenv("CF_ACCESS_REDIS_URL")), strings.TrimSpace(os.Getenv("CF_ACCESS_CACHE_KEY"))
	switch {
	case url == "" && key == "":
		return nil // one instance: its own cache is enough
	case url == "":
		return errors.New("CF_ACCESS_REDIS_URL is empty but CF_ACCESS_CACHE_KEY is set: set both to share identities through Redis, or neither")
	case key == "":
		return errors.New("CF_ACCESS_CACHE_KEY is empty but CF_ACCESS_REDIS_URL is set: set it to the same random key on every instance (openssl rand -hex 32)")
	}
	secret, err := hex.DecodeString(key)
	if err != nil { // the decoder's error would quote the secret
		return errors.New("CF_ACCESS_CACHE_KEY is not hex: make one with openssl rand -hex 32")
	}
	if len(secret) < core.MinIdentityStoreKeySize {
		return fmt.Errorf("CF_ACCESS_CACHE_KEY is %d bytes; it must be at least %d (openssl rand -hex 32)", len(secret), core.MinIdentityStoreKeySize)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("CF_ACCESS_REDIS_URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true // a slow Redis gives its connection up with the lookup
	store, err := redisstore.New(redis.NewClient(opts))
	if err != nil {
		return fmt.Errorf("CF_ACCESS_REDIS_URL: %w", err)
	}
	cfg.IdentityStore, cfg.IdentityStoreKey = store, secret
	return nil
}
