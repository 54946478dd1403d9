// Package adapter is for the authors of cfaccess adapters: what a middleware for a web
// framework is built on, so that every adapter decides the same way and only translates.
// Application authors need package core, and the adapter of their framework.
//
// A [Guard] turns a request into a [Decision]: find the token (the Cf-Access-Jwt-Assertion
// header, else the CF_Authorization cookie, see [TokenFrom]), authenticate it
// ([core.Verifier.Authenticate]), apply a policy. The adapter shows the guard its request
// through [Request] (for net/http, [HTTPRequest]), and answers a refusal with its
// [Response]: the same status, headers and JSON body from every adapter. An allowed
// request goes on with its caller stored by [core.ContextWithCaller] (a nil caller when the
// guard let a request through without one), and, for frameworks whose request object reads
// a store of its own as a context.Context, under [ContextKey] there too.
//
// A [Requirement] applies a policy at a route, to the caller a guard stored before it.
// [Accessors] read that caller back for the adapter's Caller, Claims and Identity
// functions. Mistakes in how an application uses cfaccess (a requirement with no middleware
// before it, a policy built with a mistake, an accessor on a request no middleware saw) are
// answered 500 [core.CodeMisconfigured] and logged once, at Error, with their fix.
//
// A minimal adapter, for net/http:
//
//	func Middleware(v *core.Verifier) func(http.Handler) http.Handler {
//		g := adapter.MiddlewareGuard(v)
//		return func(next http.Handler) http.Handler {
//			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//				d := g.Check(r.Context(), adapter.HTTPRequest(r))
//				if !d.Allowed() {
//					d.Response().Write(w)
//					return
//				}
//				next.ServeHTTP(w, r.WithContext(core.ContextWithCaller(r.Context(), d.Caller)))
//			})
//		}
//	}
package adapter
