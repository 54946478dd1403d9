package core_test

import (
	"encoding/json"
	"net/http"

	"github.com/cfaccess/cfaccess/core"
)

// guarded is net/http middleware in a few lines over the Verifier, as an application might
// write one: the token from the Access header, else the cookie, authenticated for the host
// the request names, then held to p (when not nil). A refusal is answered with its status
// and code; a browser navigating without a valid token is sent to the login page of the
// application of its host, when one serves it.
func guarded(v *core.Verifier, p *core.Policy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get(core.HeaderName)
		if c, err := r.Cookie(core.CookieName); token == "" && err == nil {
			token = c.Value
		}
		caller, err := v.Authenticate(r.Context(), token, r.Host)
		if err == nil && p != nil {
			var ok bool
			if ok, err = p.Allow(r.Context(), caller); !ok && err == nil {
				err = &core.Error{Code: core.CodeForbidden, Reason: core.ReasonPolicy}
			}
		}
		if err == nil {
			next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), caller)))
			return
		}
		e := core.AsError(err)
		if e.Status() == http.StatusUnauthorized && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
			if login, err := v.LoginURL(r.Host, r.URL.RequestURI()); err == nil {
				http.Redirect(w, r, login, http.StatusFound)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Status())
		_ = json.NewEncoder(w).Encode(map[string]string{"error": string(e.Code), "reason": string(e.Reason)})
	})
}

// echoCaller answers with the caller's e-mail, or null.
func echoCaller(w http.ResponseWriter, r *http.Request) {
	var email *string
	if c, ok := core.CallerFromContext(r.Context()); ok {
		email = &c.Claims.Email
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"caller": email})
}
