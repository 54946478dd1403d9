// Command consumer is a user's program, built by the release smoke check in a fresh module
// outside the repository against the library modules as published. It wires a verifier
// from the environment as the example servers do, serves requests through chiaccess (plain
// net/http) with tokens minted by core/accesstest, and exits non-zero on any wrong answer.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/cfaccess/cfaccess/chiaccess"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/redisstore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	team := accesstest.NewServer()
	defer team.Close()
	// The production wiring, from the environment, here pointed at the fake team domain.
	if err := errors.Join(
		os.Setenv(core.EnvTeamDomain, team.URL), os.Setenv(core.EnvAudiences, team.AUD),
		os.Unsetenv(redisstore.EnvURL), os.Unsetenv(redisstore.EnvKey),
	); err != nil {
		return err
	}
	cfg, err := core.ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.Identities.Shared, err = redisstore.FromEnv() // none: the variables are unset
	if err != nil || cfg.Identities.Shared != nil {
		return fmt.Errorf("redisstore.FromEnv with no variables: %v, %v", cfg.Identities.Shared, err)
	}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		claims, ok := chiaccess.Claims(r)
		if !ok {
			http.Error(w, "no caller", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, claims.Email)
	})
	mux.Handle("GET /admin", chiaccess.RequireGroups("admins")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "admin") })))
	srv := httptest.NewServer(chiaccess.Middleware(v)(mux))
	defer srv.Close()

	member := team.User("ann@example.com", "admins")
	for _, c := range []struct {
		path, token string
		status      int
		body        string
	}{
		{"/whoami", "", http.StatusUnauthorized, `"error":"missing_token"`},
		{"/whoami", member, http.StatusOK, "ann@example.com"},
		{"/whoami", tamper(member), http.StatusUnauthorized, `"error":"invalid_token"`},
		{"/admin", member, http.StatusOK, "admin"},
		{"/admin", team.User("bob@example.com", "staff"), http.StatusForbidden, `"error":"forbidden"`},
	} {
		status, body, err := get(srv.URL+c.path, c.token)
		if err != nil {
			return err
		}
		if status != c.status || !strings.Contains(body, c.body) {
			return fmt.Errorf("GET %s: got %d %q, want %d with %q", c.path, status, body, c.status, c.body)
		}
		fmt.Printf("GET %s: %d %s\n", c.path, status, strings.TrimSpace(body))
	}
	return nil
}

func get(url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Cf-Access-Jwt-Assertion", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// tamper changes the first character of the token's signature.
func tamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	swap := map[bool]string{true: "B", false: "A"}[token[i] == 'A']
	return token[:i] + swap + token[i+1:]
}
