package core

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Reasons for a token refused on the request's host (Config.HostAudiences): 401, like any
// other token that is not for this application.
const (
	ReasonHostAudience Reason = "host_audience" // aud names no application bound to the request's host
	ReasonUnboundHost  Reason = "unbound_host"  // the request's host is bound to no application, or is no host name
)

// Shared: they carry no per-request detail, so a refusal costs no allocation.
var (
	errHostAudience = invalid(ReasonHostAudience, "the token is for an application of another host", nil)
	errUnboundHost  = invalid(ReasonUnboundHost, "no Access application is bound to this host", nil)
	errBadHost      = invalid(ReasonUnboundHost, "the request's Host header is not a host name", nil)
)

// hostBindings is Config.HostAudiences, validated and ready for lookups that allocate
// nothing: keys are canonical host names (lower case, no trailing dot, no port).
type hostBindings struct {
	exact    map[string][]string // "app.example.com" → its AUD tags
	wildcard map[string][]string // "example.com", for "*.example.com" → its AUD tags
	unbound  []string            // the AUD tags of any other host; nil refuses them
}

// newHostBindings validates the bindings and returns them with every AUD tag a token may
// carry on this origin, global ones first, for the verifier's own audience check.
func newHostBindings(bound map[string][]string, global []string, unboundUseGlobal bool) (*hostBindings, []string, error) {
	b := &hostBindings{exact: make(map[string][]string), wildcard: make(map[string][]string)}
	if unboundUseGlobal {
		if len(global) == 0 {
			return nil, nil, fmt.Errorf("%w: UnboundHostsUseAudiences is set but Audiences is empty", ErrConfig)
		}
		b.unbound = append([]string(nil), global...)
	}
	all := append([]string(nil), global...)
	for _, key := range slices.Sorted(maps.Keys(bound)) { // sorted: errors and the AUD order are stable
		auds := bound[key]
		name, wildcard, err := parseHostKey(key)
		if err != nil {
			return nil, nil, err
		}
		where := fmt.Sprintf("HostAudiences[%q]: ", key)
		if len(auds) == 0 {
			return nil, nil, fmt.Errorf("%w: %sno audience: bind the host to its application's AUD tag(s)", ErrConfig, where)
		}
		if auds, err = audiences(where, auds); err != nil {
			return nil, nil, err
		}
		m := b.exact
		if wildcard {
			m = b.wildcard
		}
		if _, dup := m[name]; dup {
			return nil, nil, fmt.Errorf("%w: %sthe host is listed twice (host names are matched without regard to case or a trailing dot)", ErrConfig, where)
		}
		m[name] = append([]string(nil), auds...)
		for _, a := range auds {
			if !slices.Contains(all, a) {
				all = append(all, a)
			}
		}
	}
	return b, all, nil
}

// parseHostKey checks a key of HostAudiences: a host name, or "*." and a host name. It
// returns the name in canonical form, without the "*.".
func parseHostKey(key string) (name string, wildcard bool, err error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: HostAudiences[%q]: %s", ErrConfig, key, why)
	}
	if !isASCII(key) { // before lower-casing, which turns the Kelvin sign into a "k"
		return bad("a host name is plain ASCII (give an internationalized name in its xn-- form)")
	}
	name = strings.TrimSuffix(strings.ToLower(key), ".")
	name, wildcard = strings.CutPrefix(name, "*.")
	switch {
	case strings.Contains(key, "://") || strings.ContainsAny(key, "/?#@"):
		return bad("give a host name, with no scheme, path or user")
	case strings.Contains(name, ":") || strings.HasPrefix(name, "["):
		return bad("give a host name, with no port (ports are not matched) and no IPv6 address")
	case strings.Contains(name, "*"):
		return bad(`a wildcard is "*." followed by a host name`)
	case !validDNSName(name):
		return bad("not a host name")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("an IP address is not the host of an Access application")
	}
	return name, wildcard, nil
}

// audiences returns the AUD tags a token must name at host, the request's Host header.
//
// Matching: the port is ignored; the host is compared without regard to case and to one
// trailing dot; an exact binding wins over a wildcard, and "*.example.com" covers exactly
// one label more ("a.example.com", not "example.com" nor "a.b.example.com", as a TLS
// wildcard certificate would). An IP address, a missing Host or one that is not a host name
// is bound to nothing: with UnboundHostsUseAudiences a valid one gets Audiences, a garbage
// one never does.
func (b *hostBindings) audiences(host string) ([]string, *Error) {
	if auds, ok := b.exact[host]; ok { // the common case, a canonical Host header: no work
		return auds, nil
	}
	name, ok := canonicalHost(host)
	if !ok {
		return nil, errBadHost
	}
	if auds, ok := b.exact[name]; ok {
		return auds, nil
	}
	if dot := strings.IndexByte(name, '.'); dot > 0 {
		if auds, ok := b.wildcard[name[dot+1:]]; ok {
			return auds, nil
		}
	}
	if b.unbound != nil {
		return b.unbound, nil
	}
	return nil, errUnboundHost
}

// check refuses c at host unless its aud names an AUD bound there. It is nil-safe: without
// HostAudiences every host is accepted, the verifier having checked aud already.
func (b *hostBindings) check(c *Claims, host string) *Error {
	if b == nil {
		return nil
	}
	auds, err := b.audiences(host)
	if err != nil {
		return err
	}
	for _, a := range c.Audience {
		if slices.Contains(auds, a) {
			return nil
		}
	}
	return errHostAudience
}

// canonicalHost turns a Host header into the form of the binding keys: no port, lower case,
// no trailing dot. An IPv6 literal is returned without its brackets, which no key matches.
// It allocates only for a Host with upper-case letters.
func canonicalHost(h string) (string, bool) {
	if h == "" || len(h) > 262 || !isASCII(h) {
		return "", false
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		if rest := h[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return "", false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil || !strings.Contains(h[1:end], ":") {
			return "", false
		}
		return h[1:end], true
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:]) {
			return "", false
		}
		h = h[:i]
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return h, validDNSName(h)
}

// VerifyHost is Verify for a request addressed to host (its Host header, port and all): on
// top of Verify's checks, a token must carry an AUD that Config.HostAudiences binds to that
// host ([ReasonHostAudience], [ReasonUnboundHost]). Without HostAudiences it is Verify. A
// Guard does this itself; call VerifyHost when checking tokens without one.
func (v *Verifier) VerifyHost(ctx context.Context, token, host string) (*Claims, error) {
	c, err := v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.cfg.hosts.check(c, host); err != nil {
		return nil, err
	}
	return c, nil
}

// loginAudience is the AUD that a login URL for host names as kid: the first one bound to
// the host, or the first of Audiences without HostAudiences.
func (s *settings) loginAudience(host string) (string, error) {
	if s.hosts == nil {
		return s.audiences[0], nil
	}
	auds, err := s.hosts.audiences(host)
	if err != nil {
		return "", fmt.Errorf("cfaccess: login URL: %w", err)
	}
	return auds[0], nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
