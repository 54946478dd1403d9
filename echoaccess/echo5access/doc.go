// Package echo5access puts Cloudflare Access in front of an echo v5 application
// (github.com/labstack/echo/v5, whose handlers take a *echo.Context). Its middleware is an
// echo.MiddlewareFunc, for Echo.Use, Group.Use or a single route. For echo v4, use
// github.com/cfaccess/cfaccess/echoaccess, whose API is the same.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	e := echo.New()
//	e.Use(echo5access.Middleware(v))                          // every route: a verified caller
//	e.GET("/admin", adminHandler, echo5access.RequireGroups("admins"))
//
// The middleware stores the caller in the request's context.Context, where Caller, Claims,
// Identity and Require read it, as in every cfaccess adapter; core.CallerFromContext finds it
// in c.Request().Context() too, and a test gives a handler a caller with
// core.ContextWithCaller.
//
//	claims, ok := echo5access.Claims(c)
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
// valid session. The answer is written by the middleware, which then returns nil, so echo's
// HTTPErrorHandler never reshapes it; with WithErrorHandler the handler's error goes to echo.
// A handler that meets an error of cfaccess answers it with WriteError.
//
// WithOptionalAuth serves the paths that an Access policy bypasses, which reach the origin
// with no token: such a request goes on with no caller (the accessors report none), while a
// request that carries a token still needs a valid one.
//
// Middleware takes Options, Require and RequireGroups take RequireOptions; WithErrorHandler
// and WithObserver are both. An option that cannot apply does not compile.
package echo5access
