// Package ginaccess puts Cloudflare Access in front of a gin application.
//
//	v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud}})
//	…
//	r := gin.New()
//	r.Use(ginaccess.Middleware(v))                          // every route: a verified caller
//	r.GET("/admin", ginaccess.RequireGroups("admins"), adminHandler)
//
// Handlers read the caller with Claims, Caller or Identity, or with core.FromContext on
// c.Request.Context(): the middleware stores it in both. (A *gin.Context passed as a
// context.Context reaches the request's context only with gin's ContextWithFallback.)
// Refusals are answered as every cfaccess adapter answers them: 401, 403 or 503 with a JSON
// body, or, with WithLoginRedirect, a 302 to the Access login page for a browser that
// navigates without a valid session; either way the handlers after the refusing one do not
// run.
package ginaccess
