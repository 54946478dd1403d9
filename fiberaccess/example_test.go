package fiberaccess_test

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"time"

	"github.com/gofiber/fiber/v3"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/fiberaccess"
)

func ExampleMiddleware() {
	team := accesstest.NewServer() // stands in for https://myteam.cloudflareaccess.com
	defer team.Close()
	v, err := core.NewVerifier(core.Config{TeamDomain: team.URL, Audiences: []string{team.AUD}})
	if err != nil {
		log.Fatal(err)
	}

	// Room for the token twice, header and cookie: fiber's 4 KiB default would answer 431.
	app := fiber.New(fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)})
	app.Use(fiberaccess.Middleware(v)) // before the routes: fiber's Use applies to later routes only
	app.Get("/whoami", func(c fiber.Ctx) error {
		claims, ok := fiberaccess.Claims(c)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			return c.SendStatus(fiber.StatusInternalServerError)
		}
		return c.SendString("hello " + claims.Email)
	})
	app.Get("/admin", fiberaccess.RequireGroups("admins"), func(c fiber.Ctx) error {
		return c.SendString("welcome, admin")
	})

	for _, call := range []struct{ path, token string }{
		{"/whoami", team.User("ann@example.com")},
		{"/admin", team.User("ann@example.com", "admins")},
		{"/admin", team.User("bob@example.com", "staff")},
	} {
		req := httptest.NewRequest("GET", call.path, nil)
		req.Header.Set(core.HeaderName, call.token) // Cf-Access-Jwt-Assertion, as Access sends it
		resp, err := app.Test(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(call.path, resp.StatusCode, string(body))
	}
	// Output:
	// /whoami 200 hello ann@example.com
	// /admin 200 welcome, admin
	// /admin 403 {"error":"forbidden","message":"access denied"}
}

func ExampleIdentity() {
	handler := func(c fiber.Ctx) error {
		id, err := fiberaccess.Identity(c) // get-identity, looked up once per token and cached
		if err != nil {
			return fiberaccess.WriteError(c, err) // 403 for a service token, 503 if Access is down
		}
		return c.SendString(fmt.Sprintln(id.Name, id.Groups))
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

	observe := fiberaccess.WithObserver(func(e core.Event) {
		fmt.Println("observed:", e.Outcome, e.Code, e.Policy, e.Subject)
	})
	plain := fiberaccess.WithErrorHandler(func(c fiber.Ctx, err *core.Error) error {
		return c.Status(err.Status()).SendString(string(err.Code))
	})
	app := fiber.New()
	app.Get("/admin", fiberaccess.Middleware(v), fiberaccess.Require(core.Groups("admins", "ops"), observe, plain),
		func(c fiber.Ctx) error { return c.SendString("welcome") })

	for _, token := range []string{team.User("ann@example.com", "ops"), team.User("bob@example.com", "staff")} {
		req := httptest.NewRequest("GET", "/admin", nil)
		req.Header.Set(core.HeaderName, token)
		resp, err := app.Test(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
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

	app := fiber.New()
	app.Use(fiberaccess.Middleware(v, fiberaccess.WithOptionalAuth()))
	app.Get("/docs", func(c fiber.Ctx) error {
		if claims, ok := fiberaccess.Claims(c); ok {
			return c.SendString("hello, " + claims.Email)
		}
		return c.SendString("hello, guest")
	})
	app.Get("/docs/edit", fiberaccess.RequireGroups("writers"), func(c fiber.Ctx) error {
		return c.SendString("saved")
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
		resp, err := app.Test(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(call.path, resp.StatusCode, string(body))
	}
	// Output:
	// /docs 200 hello, guest
	// /docs 200 hello, ann@example.com
	// /docs 401 {"error":"invalid_token","message":"the token has expired"}
	// /docs/edit 401 {"error":"missing_token","message":"an Access token is required"}
	// /docs/edit 200 saved
}
