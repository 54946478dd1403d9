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
// The middleware stores the caller in the request's context.Context, where Caller, Claims,
// Identity and Require read it, as in every cfaccess adapter; core.CallerFromContext finds it
// in r.Context() too, and a test gives a handler a caller with core.ContextWithCaller.
//
//	claims, ok := chiaccess.Claims(r)
//	if !ok { // a route the middleware skips, or lets through without a token
//		…
//	}
//
// A handler that no middleware runs before is a misconfiguration: the accessors report no
// caller and log the mistake once, at Error, with the fix; Require answers 500.
//
// Refusals are answered as every cfaccess adapter answers them: 401, 403, 500 (a
// misconfiguration, logged once with its fix) or 503 with a JSON body, or, with
// WithLoginRedirect, a 302 to the Access login page for a browser that navigates without a
// valid session. A handler that meets an error of cfaccess answers it with WriteError.
//
// WithOptionalAuth serves the paths that an Access policy bypasses, which reach the origin
// with no token: such a request goes on with no caller (the accessors report none), while a
// request that carries a token still needs a valid one.
//
// Middleware takes Options, Require and RequireGroups take RequireOptions; WithErrorHandler
// and WithObserver are both. An option that cannot apply does not compile.
package chiaccess
