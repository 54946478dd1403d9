// Command fiber is a fiber server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/fiber
package main

import (
	"fmt"
	"os"

	"github.com/gofiber/fiber/v3"

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
	env, err := demo.Setup(os.Stdout)
	if err != nil {
		return err
	}
	defer env.Close()

	app := fiber.New()
	app.Get("/healthz", func(c fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	// On the routes rather than app.Use, so that /healthz and unknown paths (404) stay public.
	auth := fiberaccess.Middleware(env.Verifier)
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
	app.Get("/admin", auth, fiberaccess.RequireGroups(env.AdminGroup), func(c fiber.Ctx) error {
		claims, _ := fiberaccess.Claims(c)
		return c.JSON(fiber.Map{"admin": true, "email": claims.Email})
	})

	ln, err := env.Listen("fiber")
	if err != nil {
		return err
	}
	// env.Listen has said where the server listens; fiber's banner would say it again.
	cfg := fiber.ListenConfig{DisableStartupMessage: true}
	return demo.Serve(func() error { return app.Listener(ln, cfg) }, app.ShutdownWithContext)
}
