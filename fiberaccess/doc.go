// Package fiberaccess puts Cloudflare Access in front of a fiber (v3) application.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	app := fiber.New()
//	app.Use(fiberaccess.Middleware(v))                      // every route: a verified caller
//	app.Get("/admin", fiberaccess.RequireGroups("admins"), adminHandler)
//
// Handlers read the caller with Claims, Caller or Identity, or with core.FromContext on
// c.Context(). Refusals are answered as every cfaccess adapter answers them: 401, 403 or 503
// with a JSON body, or, with WithLoginRedirect, a 302 to the Access login page for a browser
// that navigates without a valid session.
//
// Fiber runs on fasthttp, which reuses a connection's buffers for its next request. The
// middleware hands core the request's own bytes, without copying them, and core copies what
// it keeps beyond the request, the *core.Caller's token included: a Caller and its Claims
// stay valid in a goroutine the handler started.
package fiberaccess
