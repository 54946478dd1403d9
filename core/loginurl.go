package core

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// LoginURL returns the Access login page for the application at host, which sends the user
// back to requestURI (path and query) once logged in:
//
//	<team>/cdn-cgi/access/login/<host>?kid=<aud>&redirect_url=<url-encoded requestURI>
//
// kid is the AUD of the application at host: the first one Config.HostAudiences binds to it,
// or the first of Audiences without HostAudiences; a host bound to no application is an
// error, as no login page serves it. host comes from the request's Host header, so it is
// checked to be a host name or address with an optional port; anything else is an error
// rather than a crafted path on the team domain. A requestURI that is not a local path
// becomes "/": "//host/…" and "/\host/…" are read by browsers as another site, and so is
// "/\t/host/…", since browsers drop tabs and newlines from URLs; any control character
// makes the path "/".
func (v *Verifier) LoginURL(host, requestURI string) (string, error) {
	if !validHostPort(host) {
		return "", fmt.Errorf("cfaccess: login URL: %q is not a host", host)
	}
	if !localPath(requestURI) {
		requestURI = "/"
	}
	aud, err := v.cfg.loginAudience(host)
	if err != nil {
		return "", err
	}
	return v.cfg.teamDomain + loginPathPrefix + host +
		"?kid=" + url.QueryEscape(aud) +
		"&redirect_url=" + url.QueryEscape(requestURI), nil
}

// LogoutURL returns the Access logout page of the team: <team>/cdn-cgi/access/logout.
func (v *Verifier) LogoutURL() string {
	return v.cfg.teamDomain + logoutPath
}

// localPath reports whether a browser reads uri as a path on the current site.
func localPath(uri string) bool {
	return strings.HasPrefix(uri, "/") && !strings.HasPrefix(uri, "//") && !strings.HasPrefix(uri, "/\\") &&
		strings.IndexFunc(uri, unicode.IsControl) < 0
}

// validHostPort accepts a DNS name or IPv4 address, or a bracketed IPv6 address, with an
// optional numeric port.
func validHostPort(hp string) bool {
	if hp == "" || len(hp) > 260 {
		return false
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return false
		}
		host, port = hp[1:end], hp[end+1:]
		for _, c := range host {
			if !(c == ':' || c == '.' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')) {
				return false
			}
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i:]
		if !validDNSName(strings.ToLower(host)) {
			return false
		}
	} else if !validDNSName(strings.ToLower(host)) {
		return false
	}
	if port == "" {
		return host != ""
	}
	return port[0] == ':' && validPort(port[1:])
}
