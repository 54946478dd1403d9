// Package core verifies Cloudflare Access tokens and decides who may do what, for any Go
// web framework. Put the adapter of your framework (ginaccess, echoaccess, echo5access,
// chiaccess, fiberaccess, fiber2access) in front of your routes with a [Verifier] from
// this package; the adapters only translate between their framework and this package.
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
//
// or, from CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD, with errors that name the variable:
//
//	cfg, err := core.ConfigFromEnv()
//	…
//	v, err := core.NewVerifier(cfg)
//
// Handlers find the request's [Caller] (its verified [Claims], its [Identity] from
// get-identity on demand, its [Group]s) through their adapter's accessors, or anywhere with
// [CallerFromContext]; their tests put one there with [NewCaller] and [ContextWithCaller],
// with no network. Routes require a [Policy]: [Groups], [Emails], [EmailDomains],
// [ServiceTokens], combined with [AnyOf] and [AllOf].
//
// Verification is built for servers under load and for a Cloudflare that sometimes fails:
//
//   - A token that verified once is remembered until it expires, so a browser session that
//     reuses one token pays for one RSA check, not one per request.
//   - The key set loads in the background: start-up never waits more than
//     Keys.StartupWait, and until keys arrive requests get [ErrUnavailable] (503), never a
//     pass.
//   - An unknown kid triggers one shared refetch, then no more than one per cool-down, so a
//     flood of invented kids cannot hammer the team domain or queue requests; a token that
//     may carry a key published since the last fetch is told to retry (503), not refused.
//   - A failed refresh keeps the last good keys; a key that leaves the set voids the cached
//     tokens it signed.
//
// Every error is an [*Error] with a stable [Code] (which decides the HTTP status) and
// [Reason]; the sentinels [ErrMissingToken], [ErrInvalidToken], [ErrForbidden],
// [ErrUnavailable] and [ErrMisconfigured] match with errors.Is, and [AsError] reads any
// error's. Tokens are bearer credentials: nothing in this package logs one ([TokenID] names
// one in logs). Mistakes in how an application uses cfaccess (a route requirement with no
// middleware before it, a policy built with a mistake) are answered 500
// [CodeMisconfigured] and logged once with their fix.
//
// # Several applications on one origin
//
// An origin that serves several Access applications, one per host name, binds each host to
// its application's AUD with Config.HostAudiences. A token is then accepted on a host only
// when its aud names an application of that host ([ReasonHostAudience] otherwise), so a
// token of an application everyone may use is refused on another application's host even
// when the origin is reached directly. The check runs on every request, cached tokens
// included, and login URLs name the AUD of the request's host. Hosts are matched as follows:
//
//   - the port is ignored ("app.example.com:8443" is app.example.com), and so are case and
//     one trailing dot ("App.Example.com." is app.example.com);
//   - an exact binding wins over a wildcard; "*.example.com" covers one more label
//     ("a.example.com"), not "example.com" nor "a.b.example.com";
//   - any other host, an IP address included, is bound to nothing: refused
//     ([ReasonUnboundHost]), or checked against Config.Audiences when
//     Config.UnboundHostsUseAudiences says so;
//   - a missing host, or one that is not a host name (non-ASCII, a bad port, a path), is
//     always refused.
//
// # Groups
//
// Group policies read the groups that get-identity lists, which is where Okta, Entra ID,
// Google Workspace and GitHub put them. SAML providers and generic OIDC providers deliver
// groups as an attribute or a claim instead: Config.Groups names it ([GroupsAttribute]).
// Groups that an identity provider passes into the token are read with [GroupsClaim], with
// no call at all.
//
// # Several instances
//
// Instances behind a load balancer each verify a token themselves, but need not each ask
// get-identity: with Config.Identities.Shared (Redis or Valkey through package
// core/redisstore, or any [IdentityStore]) and a shared key, the instance that looks a
// token's identity up leaves the answer there, named by a keyed hash of the token and
// sealed, and the others read it. The store is never a source of authentication: an entry
// that does not open is ignored, and a store that is down costs a lookup at Access, never
// an answer.
//
// Package accesstest, below this one, is a fake team domain for testing code that uses it;
// package adapter is what adapters are built on.
package core
