package core

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cfaccess/cfaccess/internal/hosts"
)

// Shared: they carry no per-request detail, so a refusal costs no allocation.
var (
	errHostAudience = invalid(ReasonHostAudience, "the token is for an application of another host", nil)
	errUnboundHost  = invalid(ReasonUnboundHost, "no Access application is bound to this host", nil)
	errBadHost      = invalid(ReasonUnboundHost, "the request's host is not a host name", nil)
	errNoHost       = invalid(ReasonUnboundHost, "the request names no host", nil)
)

// checkHosts refuses c unless its aud names an AUD that Config.HostAudiences binds to every
// one of hosts, the hosts a request names: frameworks and host routers pick the application
// from any of them.
func (v *Verifier) checkHosts(c *Claims, hs []string) *Error {
	if len(hs) == 0 {
		return errNoHost
	}
	for _, h := range hs {
		auds, err := v.cfg.hosts.Audiences(h)
		switch {
		case errors.Is(err, hosts.ErrNotHost):
			return errBadHost
		case err != nil:
			return errUnboundHost
		}
		if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(auds, a) }) {
			return errHostAudience
		}
	}
	return nil
}

// loginAudience is the AUD that a login URL for host names as kid: the first one bound to
// the host, or the first of Audiences without HostAudiences.
func (s *settings) loginAudience(host string) (string, error) {
	if s.hosts == nil {
		return s.audiences[0], nil
	}
	auds, err := s.hosts.Audiences(host)
	if err != nil {
		return "", fmt.Errorf("cfaccess: login URL: host %q: %w", host, err)
	}
	return auds[0], nil
}
