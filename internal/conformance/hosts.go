package conformance

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// The two applications of hostBound, each on its own host name.
const (
	hostA = "wiki.example.test"
	hostB = "admin.example.test"
	audB  = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
)

// hostBound serves the routes with a verifier that binds hostA to the team's AUD and hostB
// to audB (core.Config.HostAudiences), as an origin fronting two Access applications does,
// and sends each application's tokens to both hosts. A token is good only on its own
// application's host, whatever else the request says about where it is going, and a login
// redirect names the AUD of the host's application.
func hostBound(t *testing.T, team *accesstest.Server, start Start) {
	cfg := team.Config()
	cfg.Audiences = nil
	cfg.HostAudiences = map[string][]string{hostA: {team.AUD}, hostB: {audB}}
	cfg.Logger = slog.New(slog.DiscardHandler)
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := start(t, Setup{Verifier: v, Observe: func(core.Event) {}, Inject: Injected()})

	tokA := team.User("ann@example.com", AdminGroup)
	tokB := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{audB}, Groups: []string{AdminGroup}})
	loginA, errA := v.LoginURL(hostA, "/web/page")
	loginB, errB := v.LoginURL(hostB, "/web/page")
	if errA != nil || errB != nil || !strings.Contains(loginB, "kid="+audB) || !strings.Contains(loginA, "kid="+team.AUD) {
		t.Fatalf("login URLs %q (%v) and %q (%v) do not name their hosts' AUDs", loginA, errA, loginB, errB)
	}
	navigate := map[string]string{"Sec-Fetch-Mode": "navigate"}

	for _, c := range []Case{
		{Name: "A's token on A's host", Path: "/api/whoami", Host: hostA, Token: tokA, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "A's token on A's host, with a port", Path: "/api/whoami", Host: hostA + ":8443", Token: tokA, Status: 200},
		{Name: "A's token on A's host, in capitals", Path: "/api/whoami", Host: strings.ToUpper(hostA), Token: tokA, Status: 200},
		{Name: "A's token on B's host", Path: "/api/whoami", Host: hostB, Token: tokA, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's cookie on B's host", Path: "/api/whoami", Host: hostB, Cookie: tokA, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's token on B's host, forwarded for A", Path: "/api/whoami", Host: hostB, Token: tokA,
			Header: map[string]string{"X-Forwarded-Host": hostA, "Forwarded": "host=" + hostA}, Status: 401, Code: core.CodeInvalidToken},
		// Routers pick the application from forwarded hosts too (fiber's Hostname, chi's
		// hostrouter behind a proxy): every host a request names must be the token's.
		{Name: "A's token on A's host, forwarded for B", Path: "/api/whoami", Host: hostA, Token: tokA,
			Header: map[string]string{"X-Forwarded-Host": hostB}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's token on A's host, forwarded for A then B", Path: "/api/whoami", Host: hostA, Token: tokA,
			Header: map[string]string{"X-Forwarded-Host": hostA + ", " + hostB}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's token on A's host, Forwarded for B", Path: "/api/whoami", Host: hostA, Token: tokA,
			Header: map[string]string{"Forwarded": `for=192.0.2.60;proto=https;host="` + hostB + `"`}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's token on A's host, a second X-Forwarded-Host line for B", Path: "/api/whoami", Host: hostA, Token: tokA,
			Lines: [][2]string{{"X-Forwarded-Host", hostA}, {"X-Forwarded-Host", hostB}}, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's token on A's host, forwarded for A", Path: "/api/whoami", Host: hostA, Token: tokA,
			Header: map[string]string{"X-Forwarded-Host": hostA + ":443", "Forwarded": "host=" + hostA}, Status: 200},
		{Name: "A's token on B's group route", Path: "/api/admin", Host: hostB, Token: tokA, Status: 401, Code: core.CodeInvalidToken},
		{Name: "A's token on B's optional route", Path: "/optional/whoami", Host: hostB, Token: tokA, Status: 401, Code: core.CodeInvalidToken},
		{Name: "no token on B's optional route", Path: "/optional/whoami", Host: hostB, Status: 200, Body: `{"caller":null}`},
		{Name: "A's token on a host bound to nothing", Path: "/api/whoami", Token: tokA, Status: 401, Code: core.CodeInvalidToken},
		{Name: "B's token on B's host", Path: "/api/admin", Host: hostB, Token: tokB, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "B's token on A's host", Path: "/api/whoami", Host: hostA, Token: tokB, Status: 401, Code: core.CodeInvalidToken},
		{Name: "login on A's host names A's AUD", Path: "/web/page", Host: hostA, Header: navigate, Status: 302, Location: loginA},
		{Name: "login on B's host names B's AUD", Path: "/web/page", Host: hostB, Header: navigate, Status: 302, Location: loginB},
	} {
		t.Run(c.Name, func(t *testing.T) { Check(t, base, c) })
	}
}
