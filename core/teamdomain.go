package core

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/cfaccess/cfaccess/internal/hosts"
)

const accessSuffix = ".cloudflareaccess.com"

// ParseTeamDomain turns any accepted spelling of a team domain into its canonical URL, the exact
// value Cloudflare puts in a token's iss claim: "https://<team>.cloudflareaccess.com", lower
// case, no trailing slash.
//
// Accepted spellings:
//
//	myteam                                   a team name
//	myteam.cloudflareaccess.com              a team host
//	myteam.fed.cloudflareaccess.com          a FedRAMP team host
//	https://myteam.cloudflareaccess.com      a full https URL (any host name; no path, query or port)
//	http://127.0.0.1:8787                    plain http, for loopback hosts only (tests)
//
// Surrounding white space is ignored. Anything else is an error wrapping [ErrConfig], which
// quotes the input and says what is wrong with it: a typo must stop the program at start-up,
// not make every token look invalid, or worse, make a wrong issuer look right.
func ParseTeamDomain(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", teamDomainError(s, "it is empty")
	}
	for i := 0; i < len(in); i++ {
		// Before any lower-casing: strings.ToLower would turn some non-ASCII runes, such as
		// the Kelvin sign, into ASCII letters and make a different host of them.
		if in[i] >= utf8.RuneSelf || in[i] < ' ' {
			return "", teamDomainError(s, "it must be plain ASCII")
		}
	}
	if !strings.Contains(in, "://") {
		return parseBareTeamDomain(s, strings.ToLower(in))
	}
	team, why := parseTeamURL(in)
	if why != "" {
		return "", teamDomainError(s, why)
	}
	return team, nil
}

// parseTeamURL reads the full-URL spelling; why, when not empty, says what is wrong with it.
func parseTeamURL(in string) (team, why string) {
	u, err := url.Parse(in)
	if err != nil {
		return "", "it is not a URL"
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	switch {
	case scheme != "https" && scheme != "http":
		return "", "the scheme must be https"
	case u.User != nil:
		return "", "it must not carry user information"
	case u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", "it must be an origin, with no path, query or fragment"
	case host == "":
		return "", "it has no host"
	}
	loopback := hosts.IsLoopback(host)
	if scheme == "http" && !loopback {
		return "", "plain http is allowed for loopback hosts only; use https"
	}
	if !loopback && !hosts.ValidDNSName(host) {
		return "", "the host is not a valid DNS name"
	}
	port := u.Port()
	if port != "" && !loopback {
		return "", "a port is allowed for loopback hosts only"
	}
	if port != "" && !hosts.ValidPort(port) {
		return "", "the port is not a number from 1 to 65535"
	}
	if port != "" {
		port = strings.TrimLeft(port, "0") // ":0080" is ":80", as an iss would spell it
	}
	hostport := host
	if strings.Contains(host, ":") { // IPv6 literal
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport += ":" + port
	}
	return scheme + "://" + hostport, ""
}

func parseBareTeamDomain(orig, in string) (string, error) {
	if strings.ContainsAny(in, "/:@?#") {
		// Say what the https:// spelling of the same text would be refused for, so that
		// "myteam.cloudflareaccess.com/cdn-cgi/access/certs" hears "no path", as its https
		// form does. Only the message comes from there: a bare spelling is never accepted
		// with more than a host.
		if _, why := parseTeamURL("https://" + in); why != "" {
			return "", teamDomainError(orig, why)
		}
		return "", teamDomainError(orig, "give a team name, a team host, or a full https:// URL")
	}
	if !strings.Contains(in, ".") {
		if !hosts.ValidLabel(in) {
			return "", teamDomainError(orig, "a team name is letters, digits and inner hyphens, at most 63")
		}
		return "https://" + in + accessSuffix, nil
	}
	team, ok := strings.CutSuffix(in, accessSuffix)
	if ok {
		team = strings.TrimSuffix(team, ".fed")
	}
	if !ok || !hosts.ValidLabel(team) {
		return "", teamDomainError(orig, "a bare host must be <team>.cloudflareaccess.com or <team>.fed.cloudflareaccess.com; give any other host as a full https:// URL")
	}
	return "https://" + in, nil
}

func teamDomainError(in, why string) error {
	return fmt.Errorf("%w: team domain %q: %s", ErrConfig, in, why)
}

// warnIfNotAccess logs, at Warn, a team domain that is not a Cloudflare Access team domain:
// a full https URL of any host is accepted (a custom team domain, a test double), but the
// likelier cause is the application's own URL given by mistake, and then every token fails.
func warnIfNotAccess(s settings) {
	u, err := url.Parse(s.teamDomain)
	if err != nil {
		return
	}
	if host := u.Hostname(); hosts.IsLoopback(host) || strings.HasSuffix(host, accessSuffix) {
		return
	}
	s.log.Warn("cfaccess: the team domain is not a Cloudflare Access team domain (<team>.cloudflareaccess.com); tokens are accepted only if it issued them",
		"team", s.teamDomain)
}
