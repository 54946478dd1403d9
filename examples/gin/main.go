// Command gin is a gin server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/gin
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
	"github.com/cfaccess/cfaccess/ginaccess"
)

func main() { demo.Run("gin", serve) }

// serve is the gin application: its routes, behind Cloudflare Access.
func serve(ex *demo.Example, v *core.Verifier) error {
	observe := ginaccess.WithObserver(ex.Metrics.Observe) // every decision in the metrics

	gin.SetMode(gin.ReleaseMode) // no debug banner between the demo's own lines
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	api := r.Group("/", ginaccess.Middleware(v, observe))
	api.GET("/whoami", func(c *gin.Context) {
		claims, ok := ginaccess.Claims(c)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		// Raw is the verified payload, already JSON, with the token's own field names
		// (email, sub, common_name, aud…): no need to encode it again.
		c.Data(http.StatusOK, "application/json", claims.Raw)
	})
	api.GET("/me", func(c *gin.Context) {
		id, err := ginaccess.Identity(c) // get-identity, once per token, cached
		if err != nil {
			ginaccess.WriteError(c, err) // 403 for a service token, 503 if Access is down
			return
		}
		c.JSON(http.StatusOK, id)
	})
	api.GET("/admin", ginaccess.RequireGroups(ex.AdminGroup, observe), func(c *gin.Context) {
		claims, ok := ginaccess.Claims(c)
		if !ok {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, gin.H{"admin": true, "email": claims.Email})
	})

	return ex.ServeHandler(r)
}
