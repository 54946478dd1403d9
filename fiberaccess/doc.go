// Package fiberaccess puts Cloudflare Access in front of a fiber (v3) application.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	app := fiber.New()
//	app.Use(fiberaccess.Middleware(v))                      // every route: a verified caller
//	app.Get("/admin", fiberaccess.RequireGroups("admins"), adminHandler)
//
// The middleware stores the caller in c.Context(), and Caller, Claims, Identity and Require
// read it there, as every cfaccess adapter reads the request's context.Context; a test gives
// a handler a caller with c.SetContext(core.ContextWithCaller(c.Context(), caller)). The
// fiber.Ctx is itself a context.Context, whose Value reads fiber's Locals: the middleware
// stores the caller there too (and under CallerKey, for c.Locals), so core.FromContext(c)
// works as core.FromContext(c.Context()) does.
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
//
// Fiber runs on fasthttp, which reuses a connection's buffers for its next request. The
// middleware hands core the request's own bytes, without copying them, and core copies what
// it keeps beyond the request, the *core.Caller's token included: a Caller and its Claims
// stay valid in a goroutine the handler started. Access sends the token twice, as a header
// and as a cookie: size fiber's ReadBufferSize for it (see the package's README).
package fiberaccess
