// Package ginaccess puts Cloudflare Access in front of a gin application.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	r := gin.New()
//	r.Use(ginaccess.Middleware(v))                          // the routes after it: a verified caller
//	r.GET("/admin", ginaccess.RequireGroups("admins"), adminHandler)
//
// The middleware stores the caller in the request's context.Context, where Caller, Claims,
// Identity and Require read it, as in every cfaccess adapter; core.CallerFromContext finds it
// in c.Request.Context() too, and a test gives a handler a caller with
// core.ContextWithCaller. A *gin.Context passed on as a context.Context reaches the
// request's context only with gin's ContextWithFallback: without it,
// core.CallerFromContext(c) finds nothing.
//
//	claims, ok := ginaccess.Claims(c)
//	if !ok { // a route the middleware skips, or lets through without a token
//		…
//	}
//
// gin's Use applies only to the routes registered after it. A handler that no middleware
// runs before is a misconfiguration: the accessors report no caller and log the mistake
// once, at Error, with the fix; Require answers 500.
//
// Refusals are answered as every cfaccess adapter answers them: 401, 403, 500 (a
// misconfiguration, logged once with its fix) or 503 with a JSON body, or, with
// WithLoginRedirect, a 302 to the Access login page for a browser that navigates without a
// valid session; either way the chain is aborted. A handler that meets an error of
// cfaccess answers it with WriteError.
//
// WithOptionalAuth serves the paths that an Access policy bypasses, which reach the origin
// with no token: such a request goes on with no caller (the accessors report none), while a
// request that carries a token still needs a valid one.
//
// Middleware takes Options, Require and RequireGroups take RequireOptions; WithErrorHandler
// and WithObserver are both. An option that cannot apply does not compile.
package ginaccess
