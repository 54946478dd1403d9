package forwardauth

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// The query parameters of GET /auth that narrow a location's policy. The first three are
// oauth2-proxy's, so that its nginx snippets work unchanged.
const (
	ParamGroups        = "allowed_groups"         // users in any of these groups (name, ID or e-mail)
	ParamEmails        = "allowed_emails"         // users with one of these e-mail addresses
	ParamEmailDomains  = "allowed_email_domains"  // users with an address at one of these domains
	ParamServiceTokens = "allowed_service_tokens" // these service tokens, by client ID
)

// paramPrefix marks the parameters this server reads: an unknown one with it is a typo
// (allowed_group) that must not quietly leave a location open to every caller. Other
// parameters are ignored, as oauth2-proxy ignores them.
const paramPrefix = "allowed_"

// MaxLocations bounds the policies remembered, one per distinct query string. A proxy's
// configuration has a handful; far more means that the proxy passes the client's own query
// on (Caddy's forward_auth does, unless its uri has a "?"), and they are then built per
// request and not remembered.
const MaxLocations = 1024

// MaxQueryLength bounds the query string of an auth request, so that the locations
// remembered hold at most MaxLocations × MaxQueryLength bytes of queries. A policy of some
// hundred e-mail addresses fits; a longer query is answered as a wrong one.
const MaxQueryLength = 8 << 10

// location is what one query string asks for: a guard with its policy, or the refusal of a
// query that is wrong.
type location struct {
	guard  *adapter.Guard
	groups bool        // the policy reads groups: pass them on
	err    *core.Error // a query with a mistake: refused with 500, whatever the request
}

// locations builds and remembers the location of each query string. Reads take no lock and
// allocate nothing: the map is replaced, never changed, under mu.
type locations struct {
	v    *core.Verifier
	opts []adapter.Option // for every guard: the login redirect, the observer
	log  *slog.Logger

	m        atomic.Pointer[map[string]*location]
	mu       sync.Mutex // serialises writers
	overflow atomic.Bool
	tooLong  *location // the answer to every query longer than MaxQueryLength
	longOnce sync.Once
}

func newLocations(v *core.Verifier, log *slog.Logger, opts []adapter.Option) *locations {
	l := &locations{v: v, log: log, opts: opts}
	l.m.Store(&map[string]*location{})
	err := fmt.Errorf("%w: the query is longer than %d bytes", core.ErrConfig, MaxQueryLength)
	l.tooLong = &location{err: &core.Error{Code: core.CodeMisconfigured, Reason: core.ReasonInvalidPolicy,
		Message: "access control is misconfigured on the server: the auth request's query is too long", Err: err}}
	return l
}

// get returns the location of the query string raw.
func (l *locations) get(raw string) *location {
	if loc, ok := (*l.m.Load())[raw]; ok {
		return loc
	}
	if len(raw) > MaxQueryLength {
		l.longOnce.Do(func() {
			l.log.Error("cfaccess forward-auth: an auth request's query is too long; such queries are refused with 500",
				"length", len(raw), "limit", MaxQueryLength,
				"fix", "shorten the policy (a group rather than many addresses), and make the proxy send a fixed query, not the client's")
		})
		return l.tooLong
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.m.Load()
	if loc, ok := old[raw]; ok {
		return loc
	}
	if len(old) >= MaxLocations {
		if !l.overflow.Swap(true) {
			l.log.Warn("cfaccess forward-auth: more distinct auth queries than any proxy configuration has; "+
				"new ones are no longer remembered, nor their mistakes logged",
				"limit", MaxLocations,
				"fix", "make the proxy send a fixed query (Caddy: a uri with a \"?\", e.g. uri /auth?), not the client's")
		}
		return l.build(raw, false)
	}
	loc := l.build(raw, true)
	next := make(map[string]*location, len(old)+1)
	maps.Copy(next, old)
	next[raw] = loc
	l.m.Store(&next)
	return loc
}

// build makes the location of raw, logging a mistake when asked to.
func (l *locations) build(raw string, logMistake bool) *location {
	p, groups, param, err := parsePolicy(raw)
	var g *adapter.Guard
	if err == nil {
		opts := l.opts
		if p != nil {
			opts = append(slices.Clip(opts), adapter.WithPolicy(*p))
		}
		g, err = adapter.NewGuard(l.v, opts...)
	}
	if err == nil {
		return &location{guard: g, groups: groups}
	}
	if logMistake {
		l.log.Error("cfaccess forward-auth: an auth request's query is wrong; its location refuses every request with 500",
			"param", param, "query", raw, "error", err,
			"fix", "correct the query in the proxy's configuration: comma-separated values, none blank")
	}
	msg := "access control is misconfigured on the server"
	if param != "" {
		msg += ": the " + param + " parameter of the auth request is invalid"
	}
	return &location{err: &core.Error{Code: core.CodeMisconfigured, Reason: core.ReasonInvalidPolicy, Message: msg, Err: err}}
}

// parsePolicy reads the policy of a query string: nil when it asks for none, so that any
// verified caller passes. A user must satisfy every user parameter given (groups, e-mails,
// e-mail domains), as oauth2-proxy requires; a service token must be listed in
// allowed_service_tokens, and passes no user parameter, having no e-mail and no group. So a
// parameter the proxy adds only narrows what the location allows, save
// allowed_service_tokens, which names the service tokens it admits besides.
//
// groups reports whether the policy reads groups; param names the parameter at fault.
func parsePolicy(raw string) (p *core.Policy, groups bool, param string, err error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, false, "", fmt.Errorf("%w: the query %q does not parse: %w", core.ErrConfig, raw, err)
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch k {
		case ParamGroups, ParamEmails, ParamEmailDomains, ParamServiceTokens:
		default:
			if strings.HasPrefix(k, paramPrefix) {
				return nil, false, k, fmt.Errorf("%w: unknown parameter %s: the policy parameters are %s, %s, %s and %s",
					core.ErrConfig, k, ParamGroups, ParamEmails, ParamEmailDomains, ParamServiceTokens)
			}
		}
	}
	// Cheap checks first: a group needs the identity, which the others do not.
	var user []core.Policy
	for _, kind := range []struct {
		param string
		make  func(...string) core.Policy
	}{
		{ParamEmails, core.Emails},
		{ParamEmailDomains, core.EmailDomains},
		{ParamGroups, core.Groups},
	} {
		vals, ok := q[kind.param]
		if !ok {
			continue
		}
		pol := kind.make(split(vals)...)
		if err := pol.Err(); err != nil {
			return nil, false, kind.param, err
		}
		user = append(user, pol)
	}
	_, groups = q[ParamGroups]
	var policy core.Policy
	switch {
	case len(user) == 1:
		policy = user[0]
	case len(user) > 1:
		policy = core.AllOf(user...)
	}
	if vals, ok := q[ParamServiceTokens]; ok {
		tokens := core.ServiceTokens(split(vals)...)
		if err := tokens.Err(); err != nil {
			return nil, false, ParamServiceTokens, err
		}
		if len(user) == 0 {
			return &tokens, false, "", nil
		}
		policy = core.AnyOf(tokens, policy)
	}
	if len(user) == 0 {
		return nil, false, "", nil
	}
	return &policy, groups, "", nil
}

// split returns the comma-separated values of a parameter, given once or more. Blank values
// are kept, for the policy to refuse: "allowed_groups=" from an unset variable must not
// mean "no restriction".
func split(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}
