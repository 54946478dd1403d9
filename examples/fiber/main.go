// Command fiber is a fiber server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/fiber
package main

import (
	"net"

	"github.com/gofiber/fiber/v3"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
	"github.com/cfaccess/cfaccess/fiberaccess"
)

func main() { demo.Run("fiber", serve) }

// serve is the fiber v3 application: its routes, behind Cloudflare Access.
func serve(ex *demo.Example, v *core.Verifier) error {
	observe := fiberaccess.WithObserver(ex.Metrics.Observe) // every decision in the metrics

	// Access sends the token twice, as a header and as a cookie: a few KB with SAML
	// attributes, beyond fiber's 4 KiB default read buffer, which would answer 431. Room for
	// twice the largest token the verifier reads (Config.Tokens.MaxSize, here the default)
	// and the other headers:
	app := fiber.New(fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)})
	app.Get("/healthz", func(c fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	// On the routes rather than app.Use, so that /healthz and unknown paths (404) stay public.
	auth := fiberaccess.Middleware(v, observe)
	app.Get("/whoami", auth, func(c fiber.Ctx) error {
		claims, ok := fiberaccess.Claims(c)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			return fiber.ErrInternalServerError
		}
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
	app.Get("/admin", auth, fiberaccess.RequireGroups(ex.AdminGroup, observe), func(c fiber.Ctx) error {
		claims, ok := fiberaccess.Claims(c)
		if !ok {
			return fiber.ErrInternalServerError
		}
		return c.JSON(fiber.Map{"admin": true, "email": claims.Email})
	})

	// The example prints where it listens; fiber's banner would say it again.
	listen := fiber.ListenConfig{DisableStartupMessage: true}
	return ex.Serve(func(ln net.Listener) error { return app.Listener(ln, listen) }, app.ShutdownWithContext)
}
