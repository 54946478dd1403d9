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
// It can also rotate and withdraw keys as Cloudflare does, count the requests each endpoint
// receives, and misbehave on demand (see [Fault]), so that outages can be tested too.
// Nothing here is meant for production: keys are generated per server and held in memory.
package accesstest
