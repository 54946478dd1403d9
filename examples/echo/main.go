// Command echo is an echo server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/echo
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

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
	env, err := demo.Setup(os.Stdout)
	if err != nil {
		return err
	}
	defer env.Close()

	e := echo.New()
	e.HideBanner = true // demo prints its own, and says where the server listens
	e.HidePort = true
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	// Per route rather than e.Group("", auth): a group's middleware also answers every path
	// that matches no route, so a 404 would become a 401.
	auth := echoaccess.Middleware(env.Verifier)
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
	}, auth, echoaccess.RequireGroups(env.AdminGroup))

	ln, err := env.Listen("echo")
	if err != nil {
		return err
	}
	e.Listener = ln
	return demo.Serve(func() error { return e.Start("") }, e.Shutdown)
}
