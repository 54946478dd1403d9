// Package core verifies Cloudflare Access tokens and decides what a request may do, for any
// Go web framework. The adapters (ginaccess, echoaccess, chiaccess, fiberaccess) only
// translate between their framework and this package.
//
// A [Verifier] checks the token Access attaches to every request it lets through (the
// Cf-Access-Jwt-Assertion header, or the CF_Authorization cookie): an RS256 signature by a key
// of the team's published set, chosen by kid; iss equal to the team domain; aud naming one of
// the application's AUD tags; exp, nbf and iat within a leeway. Without this check anyone who
// learns the origin's address can walk around Access.
//
//	v, err := core.NewVerifier(core.Config{
//		TeamDomain: "myteam",                    // https://myteam.cloudflareaccess.com
//		Audiences:  []string{os.Getenv("CF_ACCESS_AUD")},
//	})
//	…
//	claims, err := v.Verify(ctx, token)
//
// Verification is built for servers under load and for a Cloudflare that sometimes fails:
//
//   - A token that verified once is remembered until it expires, so a browser session that
//     reuses one token pays for one RSA check, not one per request.
//   - The key set loads in the background: start-up never waits more than Config.StartupWait,
//     and until keys arrive requests get [ErrUnavailable] (503), never a pass.
//   - An unknown kid triggers one shared refetch, then no more than one per cool-down, so a
//     flood of invented kids cannot hammer the team domain or queue requests; a token that
//     may carry a key published since the last fetch is told to retry (503), not refused.
//   - A failed refresh keeps the last good keys; a key that leaves the set voids the cached
//     tokens it signed.
//
// Every error is an [*Error] with a stable [Code] and [Reason]; the sentinels [ErrMissingToken],
// [ErrInvalidToken], [ErrForbidden], [ErrUnavailable] and [ErrMisconfigured] match with
// errors.Is. Tokens are bearer credentials: nothing in this package logs one.
//
// The adapters are built on a [Guard], which turns a request into a [Decision] (find the
// token, verify it, apply a [Policy]), and a [Requirement], which applies a policy to the
// caller a guard stored in the request's context ([ContextWithCaller]). Handlers read the
// caller with [FromContext], [CallerFromContext] and [IdentityFromContext]; their tests put
// one there with [NewCaller] and ContextWithCaller, with no network. A mistake in how an
// application uses them (a requirement with no middleware before it, a policy built with a
// mistake) is answered 500 [CodeMisconfigured] and logged once with its fix.
//
// Package accesstest, below this one, is a fake team domain for testing code that uses it.
package core
