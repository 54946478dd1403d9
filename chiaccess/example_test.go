package chiaccess_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

func ExampleMiddleware() {
	team := accesstest.NewServer() // stands in for https://myteam.cloudflareaccess.com
	defer team.Close()
	v, err := core.NewVerifier(core.Config{TeamDomain: team.URL, Audiences: []string{team.AUD}})
	if err != nil {
		log.Fatal(err)
	}

	r := chi.NewRouter()
	r.Use(chiaccess.Middleware(v))
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		claims, ok := chiaccess.Claims(r)
		if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "hello ", claims.Email)
	})
	r.With(chiaccess.RequireGroups("admins")).Get("/admin", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "welcome, admin")
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
	handler := func(w http.ResponseWriter, r *http.Request) {
		id, err := chiaccess.Identity(r) // get-identity, looked up once per token and cached
		if err != nil {
			chiaccess.WriteError(w, err) // 403 for a service token, 503 if Access is down
			return
		}
		fmt.Fprintln(w, id.Name, id.Groups)
	}
	_ = handler
}

// Require's options: a route-level refusal reaches the observer, and the error handler
// renders it. The middleware and the requirement wrap any http.Handler.
func ExampleRequire() {
	team := accesstest.NewServer()
	defer team.Close()
	v, err := core.NewVerifier(team.Config())
	if err != nil {
		log.Fatal(err)
	}

	observe := chiaccess.WithObserver(func(e core.Event) {
		fmt.Println("observed:", e.Outcome, e.Code, e.Policy, e.Subject)
	})
	plain := chiaccess.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err *core.Error) {
		w.WriteHeader(err.Status())
		fmt.Fprint(w, err.Code)
	})
	welcome := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "welcome") })
	h := chiaccess.Middleware(v)(chiaccess.Require(core.Groups("admins", "ops"), observe, plain)(welcome))

	for _, token := range []string{team.User("ann@example.com", "ops"), team.User("bob@example.com", "staff")} {
		req := httptest.NewRequest("GET", "/admin", nil)
		req.Header.Set(core.HeaderName, token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
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

	r := chi.NewRouter()
	r.Use(chiaccess.Middleware(v, chiaccess.WithOptionalAuth()))
	r.Get("/docs", func(w http.ResponseWriter, r *http.Request) {
		if claims, ok := chiaccess.Claims(r); ok {
			fmt.Fprint(w, "hello, ", claims.Email)
			return
		}
		fmt.Fprint(w, "hello, guest")
	})
	r.With(chiaccess.RequireGroups("writers")).Get("/docs/edit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "saved")
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
