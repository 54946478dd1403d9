// Command chi is a chi server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/chi
package main

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
)

func main() { demo.Run("chi", serve) }

// serve is the chi application: its routes, behind Cloudflare Access.
func serve(ex *demo.Example, v *core.Verifier) error {
	observe := chiaccess.WithObserver(ex.Metrics.Observe) // every decision in the metrics

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	r.Group(func(r chi.Router) {
		r.Use(chiaccess.Middleware(v, observe))
		r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
			claims, ok := chiaccess.Claims(r)
			if !ok { // only on a route that no middleware guards: a mistake, which Claims logs
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			// Raw is the verified payload, already JSON, with the token's own field names
			// (email, sub, common_name, aud…): no need to encode it again.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(claims.Raw)
		})
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			id, err := chiaccess.Identity(r) // get-identity, once per token, cached
			if err != nil {
				chiaccess.WriteError(w, err) // 403 for a service token, 503 if Access is down
				return
			}
			writeJSON(w, id)
		})
		r.With(chiaccess.RequireGroups(ex.AdminGroup, observe)).Get("/admin", func(w http.ResponseWriter, r *http.Request) {
			claims, ok := chiaccess.Claims(r)
			if !ok {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			writeJSON(w, map[string]any{"admin": true, "email": claims.Email})
		})
	})

	return ex.ServeHandler(r)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
