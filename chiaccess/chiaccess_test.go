package chiaccess_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func whoami(w http.ResponseWriter, r *http.Request) {
	caller, _ := chiaccess.Caller(r)
	claims, _ := chiaccess.Claims(r)
	conformance.WhoAmI(r.Context(), caller, claims).Write(w)
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

// inject puts caller in the request's context, as a test of the application would.
func inject(caller *core.Caller) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), caller)))
		})
	}
}

// parse reads a cookie through net/http before the middleware runs.
func parse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = r.Cookie(conformance.ParsedCookie)
		next.ServeHTTP(w, r)
	})
}

func skipOpen(r *http.Request) bool { return conformance.SkipOpen(r.URL.Path) }

// TestConformance runs the shared suite through a real chi router.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		r := chi.NewRouter()
		r.Get("/public", public)
		r.Route("/api", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v))
			r.Get("/whoami", whoami)
			r.Get("/me", me)
			r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/admin", whoami)
			r.With(chiaccess.Require(core.ServiceTokens(conformance.ServiceClientID))).Get("/service", whoami)
			r.With(chiaccess.Require(conformance.BrokenPolicy())).Get("/broken", whoami)
			r.With(chiaccess.Require(core.Policy{})).Get("/zero", whoami)
			r.With(chiaccess.RequireGroups("")).Get("/blank", whoami)
		})
		r.Route("/web", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v, chiaccess.WithLoginRedirect()))
			r.Get("/page", whoami)
			r.Head("/page", whoami)
			r.Post("/page", whoami)
		})
		r.With(parse, chiaccess.Middleware(v)).Get("/parsed/whoami", whoami)
		r.Route("/custom", func(r chi.Router) {
			withCustom := chiaccess.WithErrorHandler(custom)
			r.Use(chiaccess.Middleware(v, withCustom))
			r.With(chiaccess.RequireGroups(conformance.AdminGroup, withCustom)).Get("/admin", whoami)
			r.With(chiaccess.Require(conformance.BrokenPolicy(), withCustom)).Get("/broken", whoami)
		})
		observe := chiaccess.WithObserver(s.Observe)
		r.With(chiaccess.Middleware(v, observe), chiaccess.RequireGroups(conformance.AdminGroup, observe)).Get("/observed/admin", whoami)
		r.Route("/skip", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v, chiaccess.WithSkipper(skipOpen)))
			r.Get("/open", whoami)
			r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/open/admin", whoami)
			r.Get("/open/me", me)
			r.Get("/closed", whoami)
		})
		r.Route("/optional", func(r chi.Router) {
			r.Use(chiaccess.Middleware(v, chiaccess.WithOptionalAuth(), chiaccess.WithLoginRedirect()))
			r.Get("/whoami", whoami)
			r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/admin", whoami)
			r.Get("/me", me)
		})
		r.Get("/bare/whoami", whoami)
		r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/bare/admin", whoami)
		r.Get("/bare/me", me)
		r.With(chiaccess.Middleware(nil)).Get("/nil/whoami", whoami)
		r.Route("/ctx", func(r chi.Router) {
			r.Use(inject(s.Inject))
			r.Get("/whoami", whoami)
			r.Get("/me", me)
			r.With(chiaccess.RequireGroups(conformance.AdminGroup)).Get("/admin", whoami)
		})
		return testkit.Serve(t, r)
	})
}

// TestConformanceServeMux runs the same suite through the standard library's router: the
// middleware is plain net/http.
func TestConformanceServeMux(t *testing.T) {
	conformance.Run(t, func(t conformance.TB, s conformance.Setup) string {
		v := s.Verifier
		auth := chiaccess.Middleware(v)
		admins := chiaccess.RequireGroups(conformance.AdminGroup)
		withCustom := chiaccess.WithErrorHandler(custom)
		observe := chiaccess.WithObserver(s.Observe)
		skip := chiaccess.Middleware(v, chiaccess.WithSkipper(skipOpen))
		whoami, me := http.HandlerFunc(whoami), http.HandlerFunc(me)

		mux := http.NewServeMux()
		mux.HandleFunc("GET /public", public)
		mux.Handle("GET /api/whoami", auth(whoami))
		mux.Handle("GET /api/me", auth(me))
		mux.Handle("GET /api/admin", auth(admins(whoami)))
		mux.Handle("GET /api/service", auth(chiaccess.Require(core.ServiceTokens(conformance.ServiceClientID))(whoami)))
		mux.Handle("GET /api/broken", auth(chiaccess.Require(conformance.BrokenPolicy())(whoami)))
		mux.Handle("GET /api/zero", auth(chiaccess.Require(core.Policy{})(whoami)))
		mux.Handle("GET /api/blank", auth(chiaccess.RequireGroups("")(whoami)))
		mux.Handle("/web/page", chiaccess.Middleware(v, chiaccess.WithLoginRedirect())(whoami))
		mux.Handle("GET /parsed/whoami", parse(auth(whoami)))
		mux.Handle("GET /custom/admin", chiaccess.Middleware(v, withCustom)(chiaccess.RequireGroups(conformance.AdminGroup, withCustom)(whoami)))
		mux.Handle("GET /custom/broken", chiaccess.Middleware(v, withCustom)(chiaccess.Require(conformance.BrokenPolicy(), withCustom)(whoami)))
		mux.Handle("GET /observed/admin", chiaccess.Middleware(v, observe)(chiaccess.RequireGroups(conformance.AdminGroup, observe)(whoami)))
		mux.Handle("GET /skip/open", skip(whoami))
		mux.Handle("GET /skip/open/admin", skip(admins(whoami)))
		mux.Handle("GET /skip/open/me", skip(me))
		mux.Handle("GET /skip/closed", skip(whoami))
		optional := chiaccess.Middleware(v, chiaccess.WithOptionalAuth(), chiaccess.WithLoginRedirect())
		mux.Handle("GET /optional/whoami", optional(whoami))
		mux.Handle("GET /optional/admin", optional(admins(whoami)))
		mux.Handle("GET /optional/me", optional(me))
		mux.Handle("GET /bare/whoami", whoami)
		mux.Handle("GET /bare/admin", admins(whoami))
		mux.Handle("GET /bare/me", me)
		mux.Handle("GET /nil/whoami", chiaccess.Middleware(nil)(whoami))
		mux.Handle("GET /ctx/whoami", inject(s.Inject)(whoami))
		mux.Handle("GET /ctx/me", inject(s.Inject)(me))
		mux.Handle("GET /ctx/admin", inject(s.Inject)(admins(whoami)))
		return testkit.Serve(t, mux)
	})
}

// TestOptionsApplyWhereTheyCan: Require takes the options that apply to it, and only those.
func TestOptionsApplyWhereTheyCan(t *testing.T) {
	conformance.CheckOptions[chiaccess.Option, chiaccess.RequireOption](t, conformance.Options{
		WithSkipper: chiaccess.WithSkipper, WithLoginRedirect: chiaccess.WithLoginRedirect,
		WithOptionalAuth: chiaccess.WithOptionalAuth, WithErrorHandler: chiaccess.WithErrorHandler,
		WithObserver: chiaccess.WithObserver,
	})
}
