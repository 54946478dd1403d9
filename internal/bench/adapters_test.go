package bench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	fiber2 "github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v3"
	"github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"
	"github.com/valyala/fasthttp"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/echoaccess"
	"github.com/cfaccess/cfaccess/echoaccess/echo5access"
	"github.com/cfaccess/cfaccess/fiberaccess"
	"github.com/cfaccess/cfaccess/fiberaccess/fiber2access"
	"github.com/cfaccess/cfaccess/ginaccess"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

var body = []byte(`{"ok":true}`)

// BenchmarkAdapters serves one request through each framework's real router, twice: on a
// public route, and on the same route behind the adapter's middleware with a token the
// verifier has seen before (a browser session's steady state). The difference is what
// cfaccess adds to a request; both handlers write the same body.
//
// echo v4 builds the chain of a route's middleware anew on every request, which allocates
// whatever the middleware, so echo gets a third route, noop_middleware, behind a middleware
// that only calls the next handler: whoami's cost past it is cfaccess's own.
//
//	go test ./internal/bench -run '^$' -bench BenchmarkAdapters -benchmem
func BenchmarkAdapters(b *testing.B) {
	team := testkit.NewTeam(b)
	v := quietVerifier(b, team.Config())
	token := accessToken(team)
	if _, err := v.Verify(context.Background(), token); err != nil {
		b.Fatal(err)
	}

	fastHTTP := func(b *testing.B, handler fasthttp.RequestHandler) {
		for _, route := range []string{"public", "whoami"} {
			b.Run(route, func(b *testing.B) {
				var rc fasthttp.RequestCtx
				rc.Request.SetRequestURI("/" + route)
				rc.Request.Header.Set(core.HeaderName, token)
				handler(&rc)
				if rc.Response.StatusCode() != http.StatusOK {
					b.Fatalf("status %d", rc.Response.StatusCode())
				}
				b.ReportAllocs()
				for b.Loop() {
					rc.Response.Reset()
					handler(&rc)
				}
			})
		}
	}
	netHTTP := func(b *testing.B, h http.Handler, extra ...string) {
		for _, route := range append(append([]string{"public"}, extra...), "whoami") {
			b.Run(route, func(b *testing.B) {
				req := httptest.NewRequest("GET", "/"+route, nil)
				req.Header.Set(core.HeaderName, token)
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					w.status = 0
					h.ServeHTTP(w, req)
				}
			})
		}
	}

	b.Run("gin", func(b *testing.B) {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		h := func(c *gin.Context) { c.Data(http.StatusOK, "application/json", body) }
		r.GET("/public", h)
		r.GET("/whoami", ginaccess.Middleware(v), h)
		netHTTP(b, r)
	})
	b.Run("echo", func(b *testing.B) {
		e := echo.New()
		h := func(c echo.Context) error { return c.Blob(http.StatusOK, "application/json", body) }
		noop := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { return next(c) }
		}
		e.GET("/public", h)
		e.GET("/noop_middleware", h, noop)
		e.GET("/whoami", h, echoaccess.Middleware(v))
		netHTTP(b, e, "noop_middleware")
	})
	b.Run("echo5", func(b *testing.B) {
		e := echo5.New()
		h := func(c *echo5.Context) error { return c.Blob(http.StatusOK, "application/json", body) }
		e.GET("/public", h)
		e.GET("/whoami", h, echo5access.Middleware(v))
		netHTTP(b, e)
	})
	b.Run("chi", func(b *testing.B) {
		r := chi.NewRouter()
		h := func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}
		r.Get("/public", h)
		r.With(chiaccess.Middleware(v)).Get("/whoami", h)
		netHTTP(b, r)
	})
	b.Run("fiber", func(b *testing.B) {
		app := fiber.New()
		h := func(c fiber.Ctx) error {
			c.Set("Content-Type", "application/json")
			return c.Send(body)
		}
		app.Get("/public", h)
		app.Get("/whoami", fiberaccess.Middleware(v), h)
		fastHTTP(b, app.Handler())
	})
	b.Run("fiber2", func(b *testing.B) {
		app := fiber2.New()
		h := func(c *fiber2.Ctx) error {
			c.Set("Content-Type", "application/json")
			return c.Send(body)
		}
		app.Get("/public", h)
		app.Get("/whoami", fiber2access.Middleware(v), h)
		fastHTTP(b, app.Handler())
	})
}

// discard is a ResponseWriter that keeps nothing but the status, so that the benchmark
// measures the router and the middleware, not a recorder.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
func (d *discard) WriteHeader(s int) { d.status = s }
