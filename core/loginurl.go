package core

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/cfaccess/cfaccess/internal/hosts"
	"github.com/cfaccess/cfaccess/internal/teamclient"
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
	if !hosts.ValidHostPort(host) {
		return "", fmt.Errorf("cfaccess: login URL: %q is not a host", host)
	}
	if !localPath(requestURI) {
		requestURI = "/"
	}
	aud, err := v.cfg.loginAudience(host)
	if err != nil {
		return "", err
	}
	return v.cfg.teamDomain + teamclient.LoginPathPrefix + host +
		"?kid=" + url.QueryEscape(aud) +
		"&redirect_url=" + url.QueryEscape(requestURI), nil
}

// LogoutURL returns the Access logout page of the team: <team>/cdn-cgi/access/logout.
func (v *Verifier) LogoutURL() string {
	return v.cfg.teamDomain + teamclient.LogoutPath
}

// localPath reports whether a browser reads uri as a path on the current site.
func localPath(uri string) bool {
	return strings.HasPrefix(uri, "/") && !strings.HasPrefix(uri, "//") && !strings.HasPrefix(uri, "/\\") &&
		strings.IndexFunc(uri, unicode.IsControl) < 0
}
