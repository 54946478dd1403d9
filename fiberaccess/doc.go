// Package fiberaccess puts Cloudflare Access in front of a fiber v3 application
// (github.com/gofiber/fiber/v3). For fiber v2, use
// github.com/cfaccess/cfaccess/fiberaccess/fiber2access, whose API is the same.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	app := fiber.New(fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(0)}) // see below
//	app.Use(fiberaccess.Middleware(v)) // the routes after it: a verified caller
//	app.Get("/admin", fiberaccess.RequireGroups("admins"), adminHandler)
//
// The middleware stores the caller in c.Context(), where Caller, Claims, Identity and
// Require read it, as every cfaccess adapter reads the request's context.Context; a test
// gives a handler a caller with c.SetContext(core.ContextWithCaller(c.Context(), caller)).
// The fiber.Ctx is itself a context.Context, whose Value reads the request's user values
// (fiber's Locals): the middleware stores the caller there too, under adapter.ContextKey(),
// so that core.CallerFromContext(c) works as core.CallerFromContext(c.Context()) does.
//
//	claims, ok := fiberaccess.Claims(c)
//	if !ok { // a route the middleware skips, or lets through without a token
//		…
//	}
//
// fiber's Use applies only to the routes registered after it. A handler that no middleware
// runs before is a misconfiguration: the accessors report no caller and log the mistake
// once, at Error, with the fix; Require answers 500.
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
// Size fiber's read buffer for Access's tokens: fiber.Config.ReadBufferSize, 4 KiB by
// default, also caps a request's headers, and Access sends the token twice, as the
// Cf-Access-Jwt-Assertion header and as the CF_Authorization cookie, a few KB each when the
// identity provider passes SAML attributes. With the default, fiber answers such requests
// 431 itself, before any middleware runs. adapter.MaxHeaderBytes (package
// github.com/cfaccess/cfaccess/core/adapter) gives the size: twice the largest token the
// verifier reads (core.Config.Tokens.MaxSize) plus 16 KiB for the rest, 48 KiB by default.
//
//	app := fiber.New(fiber.Config{ReadBufferSize: adapter.MaxHeaderBytes(cfg.Tokens.MaxSize)})
//
// Fiber runs on fasthttp, which reuses a connection's buffers for its next request. The
// middleware hands core the request's own bytes, without copying them, and core copies what
// it keeps beyond the request, the *core.Caller's token included: a Caller and its Claims
// stay valid in a goroutine the handler started.
package fiberaccess
