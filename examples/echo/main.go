// Command echo is an echo server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/echo
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/echoaccess"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
)

func main() { demo.Run("echo", serve) }

// serve is the echo v4 application: its routes, behind Cloudflare Access.
func serve(ex *demo.Example, v *core.Verifier) error {
	observe := echoaccess.WithObserver(ex.Metrics.Observe) // every decision in the metrics

	e := echo.New()
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	// Per route rather than e.Group("", auth): a group's middleware also answers every path
	// that matches no route, so a 404 would become a 401.
	auth := echoaccess.Middleware(v, observe)
	e.GET("/whoami", func(c echo.Context) error {
		claims, ok := echoaccess.Claims(c)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			return echo.ErrInternalServerError
		}
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
		claims, ok := echoaccess.Claims(c)
		if !ok {
			return echo.ErrInternalServerError
		}
		return c.JSON(http.StatusOK, map[string]any{"admin": true, "email": claims.Email})
	}, auth, echoaccess.RequireGroups(ex.AdminGroup, observe))

	return ex.ServeHandler(e)
}
