// Command echo is an echo server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/echo
package main

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/redisstore"
	"github.com/cfaccess/cfaccess/echoaccess"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
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

	e := echo.New()
	e.HideBanner = true // demo prints its own, and says where the server listens
	e.HidePort = true
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	// Per route rather than e.Group("", auth): a group's middleware also answers every path
	// that matches no route, so a 404 would become a 401.
	auth := echoaccess.Middleware(v)
	e.GET("/whoami", func(c echo.Context) error {
		claims, _ := echoaccess.Claims(c)
		// Raw is the verified payload, already JSON, with the token's own field names
		// (email, sub, common_name, aud…): no need to encode it again.
		return c.JSONBlob(http.StatusOK, claims.Raw)
	}, auth)
	e.GET("/me", func(c echo.Context) error {
		id, err := echoaccess.Identity(c) // get-identity, once per token, cached
		if err != nil {
			return echoaccess.WriteError(c, err) // 403 for a service token, 503 if Access is down
		}
		return c.JSON(http.StatusOK, id)
	}, auth)
	e.GET("/admin", func(c echo.Context) error {
		claims, _ := echoaccess.Claims(c)
		return c.JSON(http.StatusOK, map[string]any{"admin": true, "email": claims.Email})
	}, auth, echoaccess.RequireGroups(adminGroup))

	ln, err := demo.Listen(os.Stdout, "echo", addr, team, adminGroup)
	if err != nil {
		return err
	}
	e.Listener = ln
	return demo.Serve(func() error { return e.Start("") }, e.Shutdown)
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
