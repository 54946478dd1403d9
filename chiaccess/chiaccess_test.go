package chiaccess_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/conformance"
)

func whoami(w http.ResponseWriter, r *http.Request) {
	c, _ := chiaccess.Claims(r)
	conformance.WhoAmI(c, r.Context()).Write(w)
}

func me(w http.ResponseWriter, r *http.Request) {
	id, err := chiaccess.Identity(r)
	if err != nil {
		chiaccess.WriteError(w, err)
		return
	}
	conformance.Me(id).Write(w)
}

func public(w http.ResponseWriter, _ *http.Request) { conformance.Public().Write(w) }

func custom(w http.ResponseWriter, _ *http.Request, err *core.Error) {
	conformance.Custom(err).Write(w)
}

// TestConformance runs the shared suite through a real chi router.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, v *core.Verifier) string {
		r := chi.NewRouter()
		r.Get("/public", public)
		r.Route("/api", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v))
			r.Get("/whoami", whoami)
			r.Get("/me", me)
			r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/admin", whoami)
			r.With(chiaccess.Require(core.ServiceTokens(conformance.ServiceClientID))).Get("/service", whoami)
			r.With(chiaccess.Require(conformance.BrokenPolicy())).Get("/broken", whoami)
		})
		r.Route("/web", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v, chiaccess.WithLoginRedirect()))
			r.Get("/page", whoami)
			r.Post("/page", whoami)
		})
		r.Route("/custom", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v, chiaccess.WithErrorHandler(custom)))
			r.With(chiaccess.Require(core.Groups(conformance.AdminGroup), chiaccess.WithErrorHandler(custom))).Get("/admin", whoami)
		})
		r.Route("/skip", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v, chiaccess.WithSkipper(func(r *http.Request) bool { return r.URL.Path == "/skip/open" })))
			r.Get("/open", whoami)
			r.Get("/closed", whoami)
		})
		r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/bare/admin", whoami)
		return serve(t, r)
	})
}

// TestConformanceServeMux runs the same suite through the standard library's router: the
// middleware is plain net/http.
func TestConformanceServeMux(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, v *core.Verifier) string {
		auth := chiaccess.Middleware(v)
		admins := chiaccess.RequireGroups(conformance.AdminGroup)
		withCustom := chiaccess.WithErrorHandler(custom)
		skip := chiaccess.WithSkipper(func(r *http.Request) bool { return r.URL.Path == "/skip/open" })

		mux := http.NewServeMux()
		mux.HandleFunc("GET /public", public)
		mux.Handle("GET /api/whoami", auth(http.HandlerFunc(whoami)))
		mux.Handle("GET /api/me", auth(http.HandlerFunc(me)))
		mux.Handle("GET /api/admin", auth(admins(http.HandlerFunc(whoami))))
		mux.Handle("GET /api/service", auth(chiaccess.Require(core.ServiceTokens(conformance.ServiceClientID))(http.HandlerFunc(whoami))))
		mux.Handle("GET /api/broken", auth(chiaccess.Require(conformance.BrokenPolicy())(http.HandlerFunc(whoami))))
		mux.Handle("/web/page", chiaccess.Middleware(v, chiaccess.WithLoginRedirect())(http.HandlerFunc(whoami)))
		mux.Handle("GET /custom/admin", chiaccess.Middleware(v, withCustom)(chiaccess.Require(core.Groups(conformance.AdminGroup), withCustom)(http.HandlerFunc(whoami))))
		mux.Handle("GET /skip/", chiaccess.Middleware(v, skip)(http.HandlerFunc(whoami)))
		mux.Handle("GET /bare/admin", admins(http.HandlerFunc(whoami)))
		return serve(t, mux)
	})
}

func TestMiddlewareWithoutVerifierRefusesEverything(t *testing.T) {
	h := chiaccess.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a request got through a middleware without a verifier")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Errorf("status %d, body %s", rec.Code, rec.Body)
	}
}

func serve(t conformance.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
