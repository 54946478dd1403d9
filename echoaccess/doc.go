// Package echoaccess puts Cloudflare Access in front of an echo (v4) application. Its
// middleware is an echo.MiddlewareFunc, for Echo.Use, Group.Use or a single route.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	e := echo.New()
//	e.Use(echoaccess.Middleware(v))                           // every route: a verified caller
//	e.GET("/admin", adminHandler, echoaccess.RequireGroups("admins"))
//
// Handlers read the caller with Claims, Caller or Identity, or with core.FromContext on the
// request's context: the middleware stores it in both. Refusals are answered as every
// cfaccess adapter answers them: 401, 403 or 503 with a JSON body, or, with
// WithLoginRedirect, a 302 to the Access login page for a browser that navigates without a
// valid session. The answer is written by the middleware, which then returns nil, so echo's
// HTTPErrorHandler never reshapes it; with WithErrorHandler the handler's error goes to echo.
package echoaccess
