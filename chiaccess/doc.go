// Package chiaccess puts Cloudflare Access in front of a chi router, or of any net/http
// router: its middleware is a plain func(http.Handler) http.Handler, so it works the same
// with http.ServeMux, gorilla/mux or anything else that takes one.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	r := chi.NewRouter()
//	r.Use(chiaccess.Middleware(v))                          // every route: a verified caller
//	r.With(chiaccess.RequireGroups("admins")).Get("/admin", adminHandler)
//
// Handlers read the caller with Claims, Caller or Identity, or with core.FromContext on the
// request's context. Refusals are answered as every cfaccess adapter answers them: 401, 403
// or 503 with a JSON body, or, with WithLoginRedirect, a 302 to the Access login page for a
// browser that navigates without a valid session.
package chiaccess
