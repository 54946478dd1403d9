package ginaccess_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/ginaccess"
)

func ExampleMiddleware() {
	team := accesstest.NewServer() // stands in for https://myteam.cloudflareaccess.com
	defer team.Close()
	v, err := core.NewVerifier(core.Config{TeamDomain: team.URL, Audiences: []string{team.AUD}})
	if err != nil {
		log.Fatal(err)
	}

	r := gin.New()
	r.Use(ginaccess.Middleware(v)) // before the routes: gin's Use applies to later routes only
	r.GET("/whoami", func(c *gin.Context) {
		claims, ok := ginaccess.Claims(c)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.String(http.StatusOK, "hello %s", claims.Email)
	})
	r.GET("/admin", ginaccess.RequireGroups("admins"), func(c *gin.Context) {
		c.String(http.StatusOK, "welcome, admin")
	})

	for _, call := range []struct{ path, token string }{
		{"/whoami", team.User("ann@example.com")},
		{"/admin", team.User("ann@example.com", "admins")},
		{"/admin", team.User("bob@example.com", "staff")},
	} {
		req := httptest.NewRequest("GET", call.path, nil)
		req.Header.Set(core.HeaderName, call.token) // Cf-Access-Jwt-Assertion, as Access sends it
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(call.path, rec.Code, rec.Body)
	}
	// Output:
	// /whoami 200 hello ann@example.com
	// /admin 200 welcome, admin
	// /admin 403 {"error":"forbidden","message":"access denied"}
}

func ExampleIdentity() {
	handler := func(c *gin.Context) {
		id, err := ginaccess.Identity(c) // get-identity, looked up once per token and cached
		if err != nil {
			ginaccess.WriteError(c, err) // 403 for a service token, 503 if Access is down
			return
		}
		c.JSON(http.StatusOK, gin.H{"name": id.Name, "groups": id.Groups})
	}
	_ = handler
}

// Require's options: a route-level refusal reaches the observer, and the error handler
// renders it.
func ExampleRequire() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	observe := ginaccess.WithObserver(func(e core.Event) {
		fmt.Println("observed:", e.Outcome, e.Code, e.Policy, e.Subject)
	})
	plain := ginaccess.WithErrorHandler(func(c *gin.Context, err *core.Error) {
		c.String(err.Status(), "%s", err.Code)
	})
	r := gin.New()
	r.GET("/admin", ginaccess.Middleware(v), ginaccess.Require(core.Groups("admins", "ops"), observe, plain),
		func(c *gin.Context) { c.String(http.StatusOK, "welcome") })

	for _, token := range []string{team.User("ann@example.com", "ops"), team.User("bob@example.com", "staff")} {
		req := httptest.NewRequest("GET", "/admin", nil)
		req.Header.Set(core.HeaderName, token)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body)
	}
	// Output:
	// observed: allowed  groups(admins, ops) ann@example.com
	// 200 welcome
	// observed: denied forbidden groups(admins, ops) bob@example.com
	// 403 forbidden
}

// Paths that an Access policy bypasses reach the origin with no token: WithOptionalAuth lets
// them through with no caller, while a token that is present must still be valid, and a
// route that needs a caller still refuses an anonymous request.
func ExampleWithOptionalAuth() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	r := gin.New()
	r.Use(ginaccess.Middleware(v, ginaccess.WithOptionalAuth()))
	r.GET("/docs", func(c *gin.Context) {
		if claims, ok := ginaccess.Claims(c); ok {
			c.String(http.StatusOK, "hello, %s", claims.Email)
			return
		}
		c.String(http.StatusOK, "hello, guest")
	})
	r.GET("/docs/edit", ginaccess.RequireGroups("writers"), func(c *gin.Context) {
		c.String(http.StatusOK, "saved")
	})

	expired := team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
	for _, call := range []struct{ path, token string }{
		{"/docs", ""},
		{"/docs", team.User("ann@example.com")},
		{"/docs", expired},
		{"/docs/edit", ""},
		{"/docs/edit", team.User("ann@example.com", "writers")},
	} {
		req := httptest.NewRequest("GET", call.path, nil)
		req.Header.Set(core.HeaderName, call.token) // an empty header is no token
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(call.path, rec.Code, rec.Body)
	}
	// Output:
	// /docs 200 hello, guest
	// /docs 200 hello, ann@example.com
	// /docs 401 {"error":"invalid_token","message":"the token has expired"}
	// /docs/edit 401 {"error":"missing_token","message":"an Access token is required"}
	// /docs/edit 200 saved
}
