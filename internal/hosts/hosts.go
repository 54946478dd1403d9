// Package hosts binds host names to the AUD tags of the Access applications that serve
// them, for an origin that fronts several applications, and holds the host-name rules the
// rest of cfaccess shares.
//
// Matching: the port is ignored; a host is compared without regard to case and to one
// trailing dot; an exact binding wins over a wildcard, and "*.example.com" covers exactly
// one label more ("a.example.com", not "example.com" nor "a.b.example.com", as a TLS
// wildcard certificate would). An IP address, a missing host or one that is not a host name
// is bound to nothing.
package hosts

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Bindings is a validated host → AUD tags table, ready for lookups that allocate nothing:
// keys are canonical host names (lower case, no trailing dot, no port).
type Bindings struct {
	exact    map[string][]string // "app.example.com" → its AUD tags
	wildcard map[string][]string // "example.com", for "*.example.com" → its AUD tags
	unbound  []string            // the AUD tags of any other host; nil refuses them
}

// Why a host has no AUD tags.
var (
	ErrNotHost = errors.New("not a host name")
	ErrUnbound = errors.New("bound to no application")
)

// New validates bound, whose AUD lists check validates (and returns trimmed), and returns
// the bindings with every AUD tag a token may carry on the origin, global ones first. With
// unboundGlobal, a host bound to nothing gets global. Errors name the key at fault.
func New(bound map[string][]string, global []string, unboundGlobal bool, check func(where string, auds []string) ([]string, error)) (*Bindings, []string, error) {
	b := &Bindings{exact: make(map[string][]string), wildcard: make(map[string][]string)}
	if unboundGlobal {
		if len(global) == 0 {
			return nil, nil, errors.New("UnboundHostsUseAudiences is set but Audiences is empty")
		}
		b.unbound = slices.Clone(global)
	}
	all := slices.Clone(global)
	for _, key := range slices.Sorted(maps.Keys(bound)) { // sorted: errors and the AUD order are stable
		where := fmt.Sprintf("HostAudiences[%q]: ", key)
		name, wildcard, err := parseKey(key)
		if err != nil {
			return nil, nil, errors.New(where + err.Error())
		}
		auds := bound[key]
		if len(auds) == 0 {
			return nil, nil, errors.New(where + "no audience: bind the host to its application's AUD tag(s)")
		}
		if auds, err = check(where, auds); err != nil {
			return nil, nil, err
		}
		m := b.exact
		if wildcard {
			m = b.wildcard
		}
		if _, dup := m[name]; dup {
			return nil, nil, errors.New(where + "the host is listed twice (host names are matched without regard to case or a trailing dot)")
		}
		m[name] = slices.Clone(auds)
		for _, a := range auds {
			if !slices.Contains(all, a) {
				all = append(all, a)
			}
		}
	}
	return b, all, nil
}

// parseKey checks a key: a host name, or "*." and a host name. It returns the name in
// canonical form, without the "*.".
func parseKey(key string) (name string, wildcard bool, err error) {
	if !isASCII(key) { // before lower-casing, which turns the Kelvin sign into a "k"
		return "", false, errors.New("a host name is plain ASCII (give an internationalized name in its xn-- form)")
	}
	name = strings.TrimSuffix(strings.ToLower(key), ".")
	name, wildcard = strings.CutPrefix(name, "*.")
	switch {
	case strings.Contains(key, "://") || strings.ContainsAny(key, "/?#@"):
		return "", false, errors.New("give a host name, with no scheme, path or user")
	case strings.Contains(name, ":") || strings.HasPrefix(name, "["):
		return "", false, errors.New("give a host name, with no port (ports are not matched) and no IPv6 address")
	case strings.Contains(name, "*"):
		return "", false, errors.New(`a wildcard is "*." followed by a host name`)
	case !ValidDNSName(name):
		return "", false, errors.New("not a host name")
	case isIP(name):
		return "", false, errors.New("an IP address is not the host of an Access application")
	}
	return name, wildcard, nil
}

// Audiences returns the AUD tags a token must name at host, as a request names it (port
// and all). A garbage host is ErrNotHost, even with unbound hosts allowed; a host bound to
// nothing is ErrUnbound.
func (b *Bindings) Audiences(host string) ([]string, error) {
	if auds, ok := b.exact[host]; ok { // the common case, a canonical host: no work
		return auds, nil
	}
	name, ok := Canonical(host)
	if !ok {
		return nil, ErrNotHost
	}
	if auds, ok := b.exact[name]; ok {
		return auds, nil
	}
	if dot := strings.IndexByte(name, '.'); dot > 0 && !isIP(name) {
		if auds, ok := b.wildcard[name[dot+1:]]; ok {
			return auds, nil
		}
	}
	if b.unbound != nil {
		return b.unbound, nil
	}
	return nil, ErrUnbound
}

// Canonical turns a host as a request names it into the form of the binding keys: no port,
// lower case, no trailing dot. An IPv6 literal is returned without its brackets, which no
// key matches. It allocates only for a host with upper-case letters.
func Canonical(h string) (string, bool) {
	if h == "" || len(h) > 262 || !isASCII(h) {
		return "", false
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		if rest := h[end+1:]; rest != "" && (rest[0] != ':' || !ValidPort(rest[1:])) {
			return "", false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil || !strings.Contains(h[1:end], ":") {
			return "", false
		}
		return h[1:end], true
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !ValidPort(h[i+1:]) {
			return "", false
		}
		h = h[:i]
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return h, ValidDNSName(h)
}

// isIP reports whether name, a canonical host, is an IP address. Only names of digits and
// dots (IPv4) or holding a colon (IPv6) are parsed, so that a host name costs no allocation.
func isIP(name string) bool {
	if strings.Trim(name, "0123456789.") != "" && !strings.Contains(name, ":") {
		return false
	}
	_, err := netip.ParseAddr(name)
	return err == nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
