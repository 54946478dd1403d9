// Command chi is a chi server behind Cloudflare Access. See examples/README.md.
//
//	go run ./examples/chi
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/examples/internal/demo"
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

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	r.Group(func(r chi.Router) {
		r.Use(chiaccess.Middleware(env.Verifier))
		r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := chiaccess.Claims(r)
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
		r.With(chiaccess.RequireGroups(env.AdminGroup)).Get("/admin", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := chiaccess.Claims(r)
			writeJSON(w, map[string]any{"admin": true, "email": claims.Email})
		})
	})

	ln, err := env.Listen("chi")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r}
	return demo.Serve(func() error { return srv.Serve(ln) }, srv.Shutdown)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
