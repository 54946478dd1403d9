// Package accesstest is a fake Cloudflare Access team domain for tests: a real HTTP server on
// loopback that publishes a real RS256 key set at /cdn-cgi/access/certs, answers
// /cdn-cgi/access/get-identity, and mints tokens of the shape Access issues, for users and
// for service tokens.
//
// Point the code under test at it exactly as at a real team domain:
//
//	srv := accesstest.NewServer()
//	t.Cleanup(srv.Close)
//	v, err := core.NewVerifier(srv.Config()) // TeamDomain: srv.URL, Audiences: {srv.AUD}
//	…
//	req.Header.Set("Cf-Access-Jwt-Assertion", srv.User("ann@example.com", "admins"))
//
// What it serves has the shapes production has, so that code passing its tests does not
// fail against Cloudflare:
//
//   - keys listed in no fixed order, and a next key published before it signs
//     ([Server.PublishNextKey], [Server.RotateKeys]);
//   - user tokens that live as long as the session (24 hours), and service tokens as
//     captures show them: aud a bare string, no type, no nbf;
//   - a custom claim (SAML attributes, OIDC claims) trimmed from the end of its list, per
//     user, past a size budget, as Access trims it ([WithCustomBudget]), while get-identity
//     reports the full identity;
//   - get-identity refusing a service token's JWT, which has no identity;
//   - WARP's fields (is_warp, device_id, gateway_account_id) only for sessions that came
//     through WARP ([Token].WARP);
//   - get-identity documents of the identity provider the user signed in with ([IdP]): the
//     provider's own subject as "id" (the token's sub is "user_uuid"), groups as that
//     provider delivers them, or none at all for one-time PIN.
//
// User mints for the server's provider (GoogleWorkspace unless [WithIdP] says otherwise);
// UserFrom for any other:
//
//	srv.UserFrom(accesstest.EntraID, "ann@example.com", "admins") // groups {id, name}, no e-mail
//	srv.UserFrom(accesstest.SAML, "ann@example.com", "admins")    // saml_attributes.groups
//	srv.UserFrom(accesstest.OneTimePIN, "ann@example.com")        // no name, groups or amr
//
// SAML and generic OIDC users have their groups as an attribute, which a verifier reads when
// told where:
//
//	cfg := srv.Config()
//	cfg.Groups = core.GroupsAttribute(accesstest.GroupsAttribute)
//
// It can also rotate and withdraw keys as Cloudflare does, count the requests each endpoint
// receives, and misbehave on demand (see [Fault]), so that outages can be tested too.
// Nothing here is meant for production: keys are generated per server and held in memory.
//
// Config sets TeamDomain and Audiences only; the rest keeps production's defaults. Where a
// test rotates keys on a busy machine (a CI runner), raise cfg.Keys.FetchWait: it bounds how
// long a request that names a new key waits for the key set to be fetched again before it is
// answered 503.
package accesstest
