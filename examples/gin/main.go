// Command gin is a gin server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/gin
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/examples/internal/demo"
	"github.com/cfaccess/cfaccess/ginaccess"
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

	gin.SetMode(gin.ReleaseMode) // no debug banner between the demo's own lines
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	api := r.Group("/", ginaccess.Middleware(env.Verifier))
	api.GET("/whoami", func(c *gin.Context) {
		claims, _ := ginaccess.Claims(c)
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
	api.GET("/admin", ginaccess.RequireGroups(env.AdminGroup), func(c *gin.Context) {
		claims, _ := ginaccess.Claims(c)
		c.JSON(http.StatusOK, gin.H{"admin": true, "email": claims.Email})
	})

	ln, err := env.Listen("gin")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r}
	return demo.Serve(func() error { return srv.Serve(ln) }, srv.Shutdown)
}
