package core

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Defaults for the zero values of [Config].
const (
	DefaultLeeway             = 30 * time.Second
	DefaultRequestTimeout     = 5 * time.Second
	DefaultStartupWait        = 3 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultUnknownKeyCooldown = 10 * time.Second
	DefaultKeyFetchWait       = 300 * time.Millisecond
	DefaultTokenCacheSize     = 10_000
	DefaultMaxTokenSize       = 16 << 10
	DefaultIdentityCacheSize  = 10_000
	DefaultIdentityTTL        = 5 * time.Minute
	DefaultIdentityFailureTTL = 5 * time.Second

	DefaultIdentityStoreTimeout = 50 * time.Millisecond
)

// maxBodySize bounds every document read from the team domain.
const maxBodySize = 1 << 20

// Config describes one Access application: which team signs its tokens and which audience
// tags they must carry. Only TeamDomain and Audiences are required; every zero value selects
// the documented default.
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
	// origin is reached directly. A Guard applies it to every request, a cached token included;
	// the package documentation says how Host headers are matched. An AUD may be
	// bound to several hosts (one application can serve several host names) and a host to
	// several AUDs (applications that split one host by path).
	//
	// Keys are host names ("app.example.com", no scheme, port or path) or one-label wildcards
	// ("*.example.com"); an IP address is no host name. A key that is not one, or an empty
	// AUD list, is an error; AUD tags are checked as in Audiences.
	HostAudiences map[string][]string

	// UnboundHostsUseAudiences decides requests for a host that HostAudiences does not name:
	// false (the default) refuses their tokens ([ReasonUnboundHost]); true checks them against
	// Audiences, as if HostAudiences were not set. Without HostAudiences it changes nothing.
	UnboundHostsUseAudiences bool

	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means DefaultLeeway (30 s);
	// negative, or more than 10 minutes (which is no longer clock skew), is an error.
	Leeway time.Duration

	// HTTPClient makes the calls to the team domain. Nil means a client of this package's own.
	// Redirects to any other origin are refused whatever the client's CheckRedirect says.
	HTTPClient *http.Client

	// RequestTimeout bounds each call to the team domain. Zero means DefaultRequestTimeout
	// (5 s); negative is an error.
	RequestTimeout time.Duration

	// StartupWait is how long NewVerifier waits for the first key set before returning anyway.
	// The load goes on in the background; until it lands, requests are answered "unavailable".
	// Zero means DefaultStartupWait (3 s); a negative value means do not wait at all.
	StartupWait time.Duration

	// RefreshInterval is how old the key set may grow before it is fetched again.
	// Zero means DefaultRefreshInterval (1 h); negative is an error.
	RefreshInterval time.Duration

	// UnknownKeyCooldown is the least time between two fetches of the key set triggered by a
	// token whose kid is unknown (or by a request while no keys have loaded yet).
	// Zero means DefaultUnknownKeyCooldown (10 s); negative is an error. It is also the
	// Retry-After of every 503.
	UnknownKeyCooldown time.Duration

	// KeyFetchWait is how long a request waits for a key-set fetch under way (one its unknown
	// kid started, or the first load) before it is answered 503; the fetch goes on in the
	// background. A team domain that accepts connections and never answers thus costs a
	// request this much, not the RequestTimeout. Zero means DefaultKeyFetchWait (300 ms); a
	// negative value means do not wait at all.
	KeyFetchWait time.Duration

	// TokenCacheSize is the number of verified tokens remembered, so that a token seen again
	// costs a cache lookup instead of an RSA verification. When it is full, the tokens least
	// likely to be seen again make room (otter's W-TinyLFU); each leaves at its exp + Leeway.
	// Zero means DefaultTokenCacheSize; a negative value turns the cache off.
	TokenCacheSize int

	// MaxTokenSize is the longest token, in bytes, that is parsed at all; a longer one is
	// invalid (ReasonTooLarge). Zero means DefaultMaxTokenSize (16 KiB); negative is an error.
	MaxTokenSize int

	// IdentityCacheSize is the number of get-identity answers remembered, one per token.
	// Zero means DefaultIdentityCacheSize; a negative value turns the cache off (concurrent
	// lookups for one token still share one call).
	IdentityCacheSize int

	// IdentityTTL is how long a get-identity answer is reused; never past the token's exp.
	// Group changes at the identity provider show after at most this long.
	// Zero means DefaultIdentityTTL (5 min); negative is an error.
	IdentityTTL time.Duration

	// IdentityFailureTTL is how long a failed get-identity lookup is remembered, never past
	// the token's exp: until then, requests of that token get the same answer (503, or 401
	// when Access refused the token) at once, instead of each waiting up to RequestTimeout
	// for a team domain that is down. Zero means DefaultIdentityFailureTTL (5 s); a negative
	// value means failures are not remembered. Like answers, failures are remembered only
	// while the identity cache is on.
	IdentityFailureTTL time.Duration

	// GroupsClaim, when set, names a key of the token's "custom" claim that holds the
	// caller's groups (an array of strings, or of {id, name, email} objects), as an identity
	// provider's SAML attribute or OIDC claim passed through by Access. Groups are then read
	// from the token, with no call to get-identity; Claims.Groups holds them.
	GroupsClaim string

	// GroupsAttribute, when set, names the field of get-identity's saml_attributes (a SAML
	// identity provider's attributes) or, when that has no such field, of its oidc_fields (a
	// generic OIDC provider's claims) that holds the caller's groups, for providers that
	// deliver groups as an attribute rather than in get-identity's own "groups" list. The
	// name is matched exactly, case included, as Access spells it. The field may hold one
	// string (one group), a list of strings, or a list of {id, name, email} objects; anything
	// else, and a missing field, is no group. Groups are then read from there only, never
	// from the top-level list. It cannot be combined with GroupsClaim.
	GroupsAttribute string

	// IdentityStore, when set, is a store that the instances of a fleet share (Redis or
	// Valkey, through package core/redisstore), between the identity cache and get-identity:
	// a lookup that misses the cache reads the store, and only when the store has no entry
	// for the token asks get-identity, then leaves the answer in the store for the other
	// instances. Entries expire with the identity cache's (IdentityTTL, never past the
	// token's exp). Failed lookups are not shared. The store is read only for tokens that
	// have verified here, and a store that fails, hangs or holds an entry that does not open
	// costs a call to get-identity, never an answer: see IdentityStore. It requires
	// IdentityStoreKey.
	IdentityStore IdentityStore

	// IdentityStoreKey is the secret that every instance sharing IdentityStore is given: at
	// least MinIdentityStoreKeySize (32) random bytes, e.g. from `openssl rand -hex 32`,
	// decoded. Under keys derived from it, entries are named by an HMAC-SHA256 of the team
	// domain and the token, never by the token, and sealed with AES-256-GCM, bound to the
	// team domain and the token: whoever reads the store learns neither tokens nor
	// identities, and whoever writes to it cannot grant a group. An instance with another key reads no entry of the
	// others. It is an error without IdentityStore, and IdentityStore is one without it.
	IdentityStoreKey []byte

	// IdentityStoreTimeout bounds each read and each write of IdentityStore, whatever the
	// store does with its context: a lookup waits at most this long for the store before it
	// asks get-identity, and writes never hold a request. Zero means
	// DefaultIdentityStoreTimeout (50 ms); negative is an error.
	IdentityStoreTimeout time.Duration

	// Logger receives key refresh failures and recoveries, those of IdentityStore, the
	// identity store entries it rejects, and the misconfigurations that
	// middleware and route requirements find (once each, at Error, with the fix). Tokens are
	// never logged. Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock that token times (exp, nbf, iat) and key refreshes are measured by.
	// Nil means time.Now. Tests may set it to move time without waiting; in production leave
	// it nil. When set, it is read on every cached lookup too; otherwise cached lookups read
	// a clock that ticks every 10 ms and read the exact time within a second of a deadline.
	Now func() time.Time
}

// settings is a validated Config with every default filled in.
type settings struct {
	teamDomain         string
	audiences          []string
	leeway             time.Duration
	client             *http.Client
	requestTimeout     time.Duration
	startupWait        time.Duration
	refreshInterval    time.Duration
	unknownKeyCooldown time.Duration
	keyFetchWait       time.Duration
	tokenCacheSize     int
	maxTokenSize       int
	identityCacheSize  int
	identityTTL        time.Duration
	identityFailureTTL time.Duration
	groupsClaim        string
	groupsAttribute    string
	hosts              *hostBindings  // nil: no HostAudiences
	store              *storeSettings // nil: no IdentityStore
	log                *slog.Logger
	now                func() time.Time
}

func (c Config) settings() (settings, error) {
	team, err := ParseTeamDomain(c.TeamDomain)
	if err != nil {
		return settings{}, err
	}
	s := settings{
		teamDomain:         team,
		leeway:             orDefault(c.Leeway, DefaultLeeway),
		requestTimeout:     orDefault(c.RequestTimeout, DefaultRequestTimeout),
		startupWait:        orDefault(c.StartupWait, DefaultStartupWait),
		refreshInterval:    orDefault(c.RefreshInterval, DefaultRefreshInterval),
		unknownKeyCooldown: orDefault(c.UnknownKeyCooldown, DefaultUnknownKeyCooldown),
		keyFetchWait:       orDefault(c.KeyFetchWait, DefaultKeyFetchWait),
		tokenCacheSize:     orDefault(c.TokenCacheSize, DefaultTokenCacheSize),
		maxTokenSize:       orDefault(c.MaxTokenSize, DefaultMaxTokenSize),
		identityCacheSize:  orDefault(c.IdentityCacheSize, DefaultIdentityCacheSize),
		identityTTL:        orDefault(c.IdentityTTL, DefaultIdentityTTL),
		identityFailureTTL: orDefault(c.IdentityFailureTTL, DefaultIdentityFailureTTL),
		groupsClaim:        c.GroupsClaim,
		groupsAttribute:    c.GroupsAttribute,
		log:                c.Logger,
		now:                c.Now,
	}
	if len(c.Audiences) == 0 && len(c.HostAudiences) == 0 {
		return settings{}, fmt.Errorf("%w: no audience: set Audiences to the application's AUD tag(s)", ErrConfig)
	}
	if s.audiences, err = audiences("", c.Audiences); err != nil {
		return settings{}, err
	}
	if len(c.HostAudiences) > 0 {
		hosts, all, err := newHostBindings(c.HostAudiences, s.audiences, c.UnboundHostsUseAudiences)
		if err != nil {
			return settings{}, err
		}
		s.hosts, s.audiences = hosts, all
	}
	if err := checkGroupSources(c.GroupsClaim, c.GroupsAttribute); err != nil {
		return settings{}, err
	}
	if s.store, err = newStoreSettings(c); err != nil {
		return settings{}, err
	}

	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Leeway", s.leeway},
		{"RequestTimeout", s.requestTimeout},
		{"RefreshInterval", s.refreshInterval},
		{"UnknownKeyCooldown", s.unknownKeyCooldown},
		{"IdentityTTL", s.identityTTL},
	} {
		if d.v < 0 {
			return settings{}, fmt.Errorf("%w: %s is negative (%s)", ErrConfig, d.name, d.v)
		}
	}
	if s.leeway > 10*time.Minute {
		return settings{}, fmt.Errorf("%w: Leeway %s is more than 10m: that is not clock skew", ErrConfig, s.leeway)
	}
	if s.maxTokenSize < 0 {
		return settings{}, fmt.Errorf("%w: MaxTokenSize is negative (%d)", ErrConfig, s.maxTokenSize)
	}
	if s.startupWait < 0 {
		s.startupWait = 0
	}
	if s.keyFetchWait < 0 {
		s.keyFetchWait = 0
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.client = teamClient(c.HTTPClient, team)
	return s, nil
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
			return nil, fmt.Errorf("%w: %saudience %d of %d is empty", ErrConfig, where, i+1, len(list))
		case strings.Contains(t, ","):
			return nil, fmt.Errorf("%w: %saudience %q contains a comma: give each AUD tag as an element of its own, not a comma-separated list in one string", ErrConfig, where, a)
		case strings.ContainsFunc(t, unicode.IsSpace):
			return nil, fmt.Errorf("%w: %saudience %q contains white space: give each AUD tag as an element of its own, not a list in one string", ErrConfig, where, a)
		case strings.ContainsFunc(t, unicode.IsControl):
			return nil, fmt.Errorf("%w: %saudience %q contains a control character", ErrConfig, where, a)
		case strings.ContainsAny(t, `"'`):
			return nil, fmt.Errorf("%w: %saudience %q contains a quote: an AUD tag is hex digits, without quotes", ErrConfig, where, a)
		}
		out[i] = t
	}
	return out, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
