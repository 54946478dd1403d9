package conformance

import (
	"fmt"
	"strings"

	"github.com/cfaccess/cfaccess/core/accesstest"
)

// LargeToken mints a token for email as Access issues one when the identity provider passes
// SAML attributes on: a custom claim with the user's profile and thirty group IDs, about
// 3 KB in all.
func LargeToken(team *accesstest.Server, email string, groups ...string) string {
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-4d1c-4a8e-9b2f-%012x", 0x5e1f0000+i, 0x7c3a00b00000+i*7919)
	}
	const claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	return team.Mint(accesstest.Token{Email: email, Groups: groups, Custom: map[string]any{
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups": ids,
		claims + "emailaddress": email,
		claims + "givenname":    "Ann",
		claims + "surname":      "Smith",
		claims + "name":         email,
		"department":            "Platform Engineering",
		"employeeId":            "E-204817",
		"costCenter":            "CC-4410-DE",
		"office":                strings.Repeat("Level 7, 1 Example Square, London ", 2),
	}})
}

// largeTokenCases send a LargeToken as Access forwards a browser's request: in the
// Cf-Access-Jwt-Assertion header and again in the CF_Authorization cookie, beside two
// ordinary cookies of the application; and as the cookie alone.
func largeTokenCases(team *accesstest.Server) []Case {
	big := LargeToken(team, "ann@example.com", AdminGroup)
	cookies := "_ga=GA1.1.1180465126.1714033531; " + "CF_Authorization=" + big + "; session=" + strings.Repeat("9f86d081884c7d65", 8)
	return []Case{
		{Name: "a large token in the header and the cookie, beside other cookies", Path: "/api/admin", Token: big, Cookies: []string{cookies}, Status: 200, Contain: `"email":"ann@example.com"`},
		{Name: "a large token in the cookie, beside other cookies", Path: "/api/whoami", Cookies: []string{cookies}, Status: 200, Contain: `"department":"Platform Engineering"`},
	}
}
