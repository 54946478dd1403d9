package core

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/cfaccess/cfaccess/internal/hosts"
	"github.com/cfaccess/cfaccess/internal/seal"
)

// None, given to a field of [Config] (or of its groups) that documents it, selects none of
// the thing: no wait, no cache, no leeway, nothing remembered. It is the one negative value
// any field accepts, and only where none is safe; everywhere else, and for any other
// negative value, NewVerifier and Validate return an error.
//
// Every field follows the same rule: zero selects the documented default, None selects
// none, anything else is taken as it is.
const None = -1

// Defaults for the zero values of [Config].
const (
	DefaultLeeway             = 30 * time.Second
	DefaultMaxTokenSize       = 16 << 10
	DefaultTokenCacheSize     = 10_000
	DefaultStartupWait        = 3 * time.Second
	DefaultKeyFetchWait       = 300 * time.Millisecond
	DefaultRefreshInterval    = time.Hour
	DefaultUnknownKeyCooldown = 10 * time.Second
	DefaultIdentityCacheSize  = 10_000
	DefaultIdentityTTL        = 5 * time.Minute
	DefaultIdentityFailureTTL = 5 * time.Second
	DefaultStoreTimeout       = 50 * time.Millisecond
	DefaultRequestTimeout     = 5 * time.Second
)

// maxLeeway is the largest Leeway: beyond it, it is no longer clock skew.
const maxLeeway = 10 * time.Minute

// Config describes one Access application: which team signs its tokens and which audience
// tags they must carry. The common case is two fields:
//
//	core.Config{TeamDomain: "myteam", Audiences: []string{aud}}
//
// Everything else has a default that suits a production server; the groups below (Tokens,
// Keys, Identities) tune the verifier's caches and its calls to the team domain. For every
// duration and size, zero selects the default and [None] selects none where none is safe.
// [ConfigFromEnv] reads a Config from the environment; [Config.Validate] checks one without
// touching the network.
type Config struct {
	// TeamDomain is the Zero Trust team domain, in any spelling ParseTeamDomain accepts:
	// "myteam", "myteam.cloudflareaccess.com", "https://myteam.cloudflareaccess.com".
	// Surrounding white space is ignored. Required.
	TeamDomain string

	// Audiences are the Application Audience (AUD) tags a token may carry; a token is accepted
	// when its aud names at least one of them. At least one AUD is required, here or in
	// HostAudiences: an empty configuration is an error, never "accept any application of the
	// team". Surrounding white space is ignored; an empty tag, or one that holds a comma,
	// inner white space or a quote (a list passed as one string) or a control character, is
	// an error.
	Audiences []string

	// HostAudiences binds host names to the AUD tags of the Access applications that serve
	// them, for an origin that fronts several applications, one per host name: a token is then
	// accepted on a host only when its aud names an AUD bound to that host, so that a token of
	// a low-privilege application is refused on another application's host even when the
	// origin is reached directly. It applies to every request, a cached token included; the
	// package documentation says how hosts are matched. An AUD may be bound to several hosts
	// (one application can serve several host names) and a host to several AUDs
	// (applications that split one host by path).
	//
	// Keys are host names ("app.example.com", no scheme, port or path) or one-label wildcards
	// ("*.example.com"); an IP address is no host name. A key that is not one, or an empty
	// AUD list, is an error; AUD tags are checked as in Audiences.
	HostAudiences map[string][]string

	// UnboundHostsUseAudiences decides requests for a host that HostAudiences does not name:
	// false (the default) refuses their tokens ([ReasonUnboundHost]); true checks them against
	// Audiences, as if HostAudiences were not set. Without HostAudiences it changes nothing.
	UnboundHostsUseAudiences bool

	// Groups says where the caller's identity-provider groups come from; the zero value is
	// get-identity's "groups" list. See [GroupsClaim] and [GroupsAttribute].
	Groups GroupSource

	// ServiceTokenNames names service tokens, by client ID ("<hex>.access") → a name of the
	// application's choosing ("ci-deploy"): Caller.ServiceTokenName returns it, events carry
	// it as their Subject, and [NamedServiceTokens] allows by it, so that rotating a service
	// token (a new client ID) changes one line of configuration, not every policy. A key
	// that is not a client ID, or a blank name, is an error.
	ServiceTokenNames map[string]string

	// Tokens tunes the checks of a token and the cache of verified tokens.
	Tokens TokenConfig

	// Keys tunes how the team's signing keys are fetched.
	Keys KeyConfig

	// Identities tunes the lookups of get-identity: their cache, and a store that the
	// instances of a fleet share.
	Identities IdentityConfig

	// HTTPClient makes the calls to the team domain. Nil means a client of this package's own.
	// Redirects to any other origin are refused whatever the client's CheckRedirect says.
	HTTPClient *http.Client

	// RequestTimeout bounds each call to the team domain. Zero means DefaultRequestTimeout
	// (5 s).
	RequestTimeout time.Duration

	// Logger receives key refresh failures and recoveries, those of the identity store, the
	// store entries it rejects, tokens signed by the team for another application (once per
	// AUD), and a middleware built with a mistake (once, at Error, with the fix). Mistakes
	// found without a verifier at hand (a route requirement's policy, an accessor on a
	// request no middleware saw) go to slog.Default(). Tokens are never logged. Nil means
	// slog.Default().
	Logger *slog.Logger

	// Now is the clock that token times (exp, nbf, iat) and key refreshes are measured by.
	// Nil means time.Now. Tests may set it to move time without waiting; in production leave
	// it nil.
	Now func() time.Time
}

// TokenConfig tunes the checks of a token and the cache of verified tokens.
type TokenConfig struct {
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means DefaultLeeway
	// (30 s); None means none. More than 10 minutes is no longer clock skew: an error.
	Leeway time.Duration

	// MaxSize is the longest token, in bytes, that is parsed at all; a longer one is invalid
	// ([ReasonTooLarge]). Zero means DefaultMaxTokenSize (16 KiB).
	MaxSize int

	// CacheSize is the number of verified tokens remembered, so that a token seen again costs
	// a cache lookup instead of an RSA verification. When it is full, the tokens least likely
	// to be seen again make room (otter's W-TinyLFU); each leaves at its exp + Leeway. Zero
	// means DefaultTokenCacheSize; None turns the cache off.
	CacheSize int
}

// KeyConfig tunes how the team's signing keys are fetched.
type KeyConfig struct {
	// StartupWait is how long NewVerifier waits for the first key set before returning anyway.
	// The load goes on in the background; until it lands, requests are answered
	// "unavailable". Zero means DefaultStartupWait (3 s); None means do not wait.
	StartupWait time.Duration

	// FetchWait is how long a request waits for a key-set fetch under way (one its unknown
	// kid started, or the first load) before it is answered 503; the fetch goes on in the
	// background. A team domain that accepts connections and never answers thus costs a
	// request this much, not the RequestTimeout. Zero means DefaultKeyFetchWait (300 ms);
	// None means do not wait.
	FetchWait time.Duration

	// RefreshInterval is how old the key set may grow before it is fetched again.
	// Zero means DefaultRefreshInterval (1 h).
	RefreshInterval time.Duration

	// UnknownKeyCooldown is the least time between two fetches of the key set triggered by a
	// token whose kid is unknown (or by a request while no keys have loaded yet). It is also
	// the Retry-After of every 503. Zero means DefaultUnknownKeyCooldown (10 s).
	UnknownKeyCooldown time.Duration
}

// IdentityConfig tunes the lookups of get-identity.
type IdentityConfig struct {
	// CacheSize is the number of get-identity answers remembered, one per token. Zero means
	// DefaultIdentityCacheSize; None turns the cache off (concurrent lookups for one token
	// still share one call).
	CacheSize int

	// TTL is how long a get-identity answer is reused; never past the token's exp. Group
	// changes at the identity provider show after at most this long. Zero means
	// DefaultIdentityTTL (5 min).
	TTL time.Duration

	// FailureTTL is how long a failed get-identity lookup is remembered, never past the
	// token's exp: until then, requests of that token get the same answer (503, or 401 when
	// Access refused the token) at once, instead of each waiting up to RequestTimeout for a
	// team domain that is down. Like answers, failures are remembered only while the cache
	// is on. Zero means DefaultIdentityFailureTTL (5 s); None means not remembered.
	FailureTTL time.Duration

	// Shared, when set, is a store that the instances of a fleet share (Redis or Valkey,
	// through package core/redisstore), between the cache and get-identity: a lookup that
	// misses the cache reads the store, and only when the store has no entry for the token
	// asks get-identity, then leaves the answer there for the other instances. See
	// [SharedStore].
	Shared *SharedStore
}

// SharedStore is an identity store that the instances of a fleet share, and the secret they
// share to use it. Entries expire with the cache's (IdentityConfig.TTL, never past the
// token's exp). Failed lookups are not shared. The store is read only for tokens that have
// verified here, and a store that fails, hangs or holds an entry that does not open costs a
// call to get-identity, never an answer.
type SharedStore struct {
	// Store holds the entries. Required.
	Store IdentityStore

	// Key is the secret that every instance sharing Store is given: at least
	// MinStoreKeySize (32) random bytes, e.g. from `openssl rand -hex 32`, decoded. Under keys
	// derived from it, entries are named by an HMAC-SHA256 of the team domain and the token,
	// never by the token, and sealed with XChaCha20-Poly1305, bound to the team domain and the
	// token: whoever reads the store learns neither tokens nor identities, and whoever
	// writes to it cannot grant a group. An instance with another key reads no entry of the
	// others. Required.
	Key []byte

	// Timeout bounds each read and each write of Store, whatever the store does with its
	// context: a lookup waits at most this long for the store before it asks get-identity,
	// and writes never hold a request. Zero means DefaultStoreTimeout (50 ms).
	Timeout time.Duration
}

// MinStoreKeySize is the shortest SharedStore.Key, in bytes: 256 bits.
const MinStoreKeySize = 32

var _ = [1]struct{}{}[MinStoreKeySize-seal.MinKeySize] // the same bound, or no build

// GroupSource says where the caller's identity-provider groups come from (Config.Groups).
// The zero value is get-identity's top-level "groups" list, where Okta, Entra ID (Azure
// AD), Google Workspace, GitHub and generic OIDC providers with a "groups" claim put them.
type GroupSource struct {
	kind groupKind
	name string
}

type groupKind uint8

const (
	sourceIdentity groupKind = iota
	sourceClaim
	sourceAttribute
)

// GroupsClaim reads groups from the key name of the token's "custom" claim (an array of
// strings, or of {id, name, email} objects), where Access passes an identity provider's
// SAML attribute or OIDC claim through: with no call to get-identity. Access passes custom
// claims best-effort, and drops them from a token that would grow too large; a token whose
// custom claim lacks name has its groups looked up at get-identity. A claim that is present
// is authoritative, even when empty.
func GroupsClaim(name string) GroupSource { return GroupSource{sourceClaim, name} }

// GroupsAttribute reads groups from the field name of get-identity's saml_attributes (a
// SAML identity provider's attributes) or, when that has no such field, of its oidc_fields
// (a generic OIDC provider's claims), for providers that deliver groups as an attribute
// rather than in get-identity's own "groups" list. The name is matched exactly, case
// included, as Access spells it. The field may hold one string (one group), a list of
// strings, or a list of {id, name, email} objects; anything else, and a missing field, is
// no group.
func GroupsAttribute(name string) GroupSource { return GroupSource{sourceAttribute, name} }

// String describes the source: "identity", "claim:<name>" or "attribute:<name>".
func (g GroupSource) String() string {
	switch g.kind {
	case sourceClaim:
		return "claim:" + g.name
	case sourceAttribute:
		return "attribute:" + g.name
	}
	return "identity"
}

// Validate checks c as NewVerifier does, without touching the network or starting
// anything, and returns the first mistake, wrapping [ErrConfig]; nil when NewVerifier would
// accept c. Tools and tests call it to check a configuration they will not run.
func (c Config) Validate() error {
	_, err := c.settings()
	return err
}

// settings is a validated Config with every default filled in.
type settings struct {
	teamDomain         string
	audiences          []string
	hosts              *hosts.Bindings // nil: no HostAudiences
	groups             GroupSource
	serviceTokenNames  map[string]string // client ID → name
	leeway             time.Duration
	maxTokenSize       int
	tokenCacheSize     int // 0: off
	startupWait        time.Duration
	keyFetchWait       time.Duration
	refreshInterval    time.Duration
	unknownKeyCooldown time.Duration
	identityCacheSize  int // 0: off
	identityTTL        time.Duration
	identityFailureTTL time.Duration
	store              *storeSettings // nil: no shared store
	httpClient         *http.Client
	requestTimeout     time.Duration
	log                *slog.Logger
	now                func() time.Time
	preciseNow         bool // Now was given: read it on every cached lookup too
}

// storeSettings is a validated SharedStore.
type storeSettings struct {
	store   IdentityStore
	sealer  *seal.Sealer
	timeout time.Duration
}

func (c Config) settings() (settings, error) {
	team, err := ParseTeamDomain(c.TeamDomain)
	if err != nil {
		return settings{}, err
	}
	s := settings{
		teamDomain: team,
		groups:     c.Groups,
		httpClient: c.HTTPClient,
		log:        c.Logger,
		now:        c.Now,
		preciseNow: c.Now != nil,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(c.Audiences) == 0 && len(c.HostAudiences) == 0 {
		return settings{}, configError("no audience: set Audiences to the application's AUD tag(s)")
	}
	if s.audiences, err = audiences("", c.Audiences); err != nil {
		return settings{}, err
	}
	if len(c.HostAudiences) > 0 {
		b, all, err := hosts.New(c.HostAudiences, s.audiences, c.UnboundHostsUseAudiences, audiences)
		if err != nil {
			return settings{}, wrapConfig(err)
		}
		s.hosts, s.audiences = b, all
	}
	if err := c.Groups.validate(); err != nil {
		return settings{}, err
	}
	if s.serviceTokenNames, err = serviceTokenNames(c.ServiceTokenNames); err != nil {
		return settings{}, err
	}
	// One rule for every duration and size: zero is the default, None is none where none
	// is safe, any other negative value is an error.
	for _, f := range []struct {
		name      string
		dst       *time.Duration
		v, def    time.Duration
		noneIsOff bool
	}{
		{"Tokens.Leeway", &s.leeway, c.Tokens.Leeway, DefaultLeeway, true},
		{"Keys.StartupWait", &s.startupWait, c.Keys.StartupWait, DefaultStartupWait, true},
		{"Keys.FetchWait", &s.keyFetchWait, c.Keys.FetchWait, DefaultKeyFetchWait, true},
		{"Keys.RefreshInterval", &s.refreshInterval, c.Keys.RefreshInterval, DefaultRefreshInterval, false},
		{"Keys.UnknownKeyCooldown", &s.unknownKeyCooldown, c.Keys.UnknownKeyCooldown, DefaultUnknownKeyCooldown, false},
		{"Identities.TTL", &s.identityTTL, c.Identities.TTL, DefaultIdentityTTL, false},
		{"Identities.FailureTTL", &s.identityFailureTTL, c.Identities.FailureTTL, DefaultIdentityFailureTTL, true},
		{"RequestTimeout", &s.requestTimeout, c.RequestTimeout, DefaultRequestTimeout, false},
	} {
		if *f.dst, err = pick(f.name, f.v, f.def, f.noneIsOff); err != nil {
			return settings{}, err
		}
	}
	for _, f := range []struct {
		name      string
		dst       *int
		v, def    int
		noneIsOff bool
	}{
		{"Tokens.MaxSize", &s.maxTokenSize, c.Tokens.MaxSize, DefaultMaxTokenSize, false},
		{"Tokens.CacheSize", &s.tokenCacheSize, c.Tokens.CacheSize, DefaultTokenCacheSize, true},
		{"Identities.CacheSize", &s.identityCacheSize, c.Identities.CacheSize, DefaultIdentityCacheSize, true},
	} {
		if *f.dst, err = pick(f.name, f.v, f.def, f.noneIsOff); err != nil {
			return settings{}, err
		}
	}
	if s.leeway > maxLeeway {
		return settings{}, configError("Tokens.Leeway %s is more than %s: that is not clock skew", s.leeway, maxLeeway)
	}
	if s.store, err = newStoreSettings(team, c.Identities.Shared); err != nil {
		return settings{}, err
	}
	return s, nil
}

// pick applies the rule of every field: zero is def, None is zero when none is allowed.
func pick[T int | time.Duration](name string, v, def T, noneAllowed bool) (T, error) {
	switch {
	case v == 0:
		return def, nil
	case v == None && noneAllowed:
		return 0, nil
	case v == None:
		return 0, configError("%s cannot be None: it must have a value; leave it zero for the default (%v)", name, def)
	case v < 0:
		hint := ""
		if noneAllowed {
			hint = ", or None for none"
		}
		return 0, configError("%s is negative (%v): give a positive value, zero for the default (%v)%s", name, v, def, hint)
	}
	return v, nil
}

func (g GroupSource) validate() error {
	what := map[groupKind]string{sourceClaim: "GroupsClaim", sourceAttribute: "GroupsAttribute"}[g.kind]
	switch {
	case g.kind == sourceIdentity:
		return nil
	case strings.TrimSpace(g.name) == "":
		return configError("Groups: %s(%q): the name is empty", what, g.name)
	case g.name != strings.TrimSpace(g.name):
		return configError("Groups: %s(%q): the name has white space around it", what, g.name)
	}
	return nil
}

// serviceTokenNames validates ServiceTokenNames and returns a copy, trimmed.
func serviceTokenNames(names map[string]string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(names))
	for id, name := range names {
		tid, tname := strings.TrimSpace(id), strings.TrimSpace(name)
		if why := checkClientID(tid); why != "" || tid == "" {
			return nil, configError("ServiceTokenNames: %q %s", id, cmp.Or(why, "is blank"))
		}
		if tname == "" || strings.ContainsFunc(tname, unicode.IsControl) {
			return nil, configError("ServiceTokenNames[%q]: the name %q is blank or holds a control character", id, name)
		}
		out[tid] = tname
	}
	return out, nil
}

// newStoreSettings validates a SharedStore of team; nil without one.
func newStoreSettings(team string, sh *SharedStore) (*storeSettings, error) {
	if sh == nil {
		return nil, nil
	}
	timeout, err := pick("Identities.Shared.Timeout", sh.Timeout, DefaultStoreTimeout, false)
	switch {
	case err != nil:
		return nil, err
	case sh.Store == nil:
		return nil, configError("Identities.Shared has no Store")
	case isNil(sh.Store):
		return nil, configError("Identities.Shared.Store is a nil %T", sh.Store)
	case sh.Key == nil:
		return nil, configError("Identities.Shared needs a Key: a random secret of at least %d bytes that every instance sharing the store is given", MinStoreKeySize)
	}
	sealer, err := seal.New(team, sh.Key)
	if err != nil {
		return nil, configError("Identities.Shared.Key: %v", err)
	}
	return &storeSettings{store: sh.Store, sealer: sealer, timeout: timeout}, nil
}

// audiences validates the AUD tags. Surrounding white space is trimmed, as ParseTeamDomain
// trims the team domain's: a tag read from a file or an environment variable often ends in a
// newline, and no tag can contain one. Inner white space, commas and quotes are errors: they
// are the marks of a list passed as one string, or of quotes kept by an env file, and would
// make every token fail with 401. where prefixes the errors, e.g. `HostAudiences["a.example"]: `.
func audiences(where string, list []string) ([]string, error) {
	out := make([]string, len(list))
	for i, a := range list {
		t := strings.TrimSpace(a)
		switch {
		case t == "":
			return nil, configError("%saudience %d of %d is empty", where, i+1, len(list))
		case strings.Contains(t, ","):
			return nil, configError("%saudience %q contains a comma: give each AUD tag as an element of its own, not a comma-separated list in one string", where, a)
		case strings.ContainsFunc(t, unicode.IsSpace):
			return nil, configError("%saudience %q contains white space: give each AUD tag as an element of its own, not a list in one string", where, a)
		case strings.ContainsFunc(t, unicode.IsControl):
			return nil, configError("%saudience %q contains a control character", where, a)
		case strings.ContainsAny(t, `"'`):
			return nil, configError("%saudience %q contains a quote: an AUD tag is hex digits, without quotes", where, a)
		}
		out[i] = t
	}
	return out, nil
}

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// wrapConfig makes err, a mistake of a mechanism's own, a configuration error.
func wrapConfig(err error) error {
	if errors.Is(err, ErrConfig) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrConfig, err)
}
