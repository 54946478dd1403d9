// Command oidcserver is the comparison point of the throughput measurement: the same
// /healthz and /whoami as the example servers, with /whoami checking the Access token the way
// Cloudflare's own Go example does, with coreos/go-oidc, on every request. It reads the same
// environment as the examples (CF_ACCESS_TEAM_DOMAIN as a URL, CF_ACCESS_AUD, ADDR).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/coreos/go-oidc/v3/oidc"
)

func main() {
	team, aud := os.Getenv("CF_ACCESS_TEAM_DOMAIN"), os.Getenv("CF_ACCESS_AUD")
	keys := oidc.NewRemoteKeySet(context.Background(), team+"/cdn-cgi/access/certs")
	verifier := oidc.NewVerifier(team, keys, &oidc.Config{ClientID: aud})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		token, err := verifier.Verify(r.Context(), r.Header.Get("Cf-Access-Jwt-Assertion"))
		if err != nil {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		var claims map[string]any
		if err := token.Claims(&claims); err != nil {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		writeJSON(w, claims)
	})

	ln, err := net.Listen("tcp", os.Getenv("ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("go-oidc example listening on http://%s\n", ln.Addr())
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
