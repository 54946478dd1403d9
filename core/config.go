package core

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
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
)

// maxBodySize bounds every document read from the team domain.
const maxBodySize = 1 << 20

// Config describes one Access application: which team signs its tokens and which audience
// tags they must carry. Only TeamDomain and Audiences are required; every zero value selects
// the documented default.
type Config struct {
	// TeamDomain is the Zero Trust team domain, in any spelling ParseTeamDomain accepts:
	// "myteam", "myteam.cloudflareaccess.com", "https://myteam.cloudflareaccess.com".
	TeamDomain string

	// Audiences are the Application Audience (AUD) tags a token may carry; a token is accepted
	// when its aud names at least one of them. At least one is required: an empty list is an
	// error, never "accept any application of the team".
	Audiences []string

	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means DefaultLeeway (30 s).
	Leeway time.Duration

	// HTTPClient makes the calls to the team domain. Nil means a client of this package's own.
	// Redirects to any other origin are refused whatever the client's CheckRedirect says.
	HTTPClient *http.Client

	// RequestTimeout bounds each call to the team domain. Zero means DefaultRequestTimeout (5 s).
	RequestTimeout time.Duration

	// StartupWait is how long NewVerifier waits for the first key set before returning anyway.
	// The load goes on in the background; until it lands, requests are answered "unavailable".
	// Zero means DefaultStartupWait (3 s); a negative value means do not wait at all.
	StartupWait time.Duration

	// RefreshInterval is how old the key set may grow before it is fetched again.
	// Zero means DefaultRefreshInterval (1 h).
	RefreshInterval time.Duration

	// UnknownKeyCooldown is the least time between two fetches of the key set triggered by a
	// token whose kid is unknown (or by a request while no keys have loaded yet).
	// Zero means DefaultUnknownKeyCooldown (10 s).
	UnknownKeyCooldown time.Duration

	// KeyFetchWait is how long a request waits for a key-set fetch under way (one its unknown
	// kid started, or the first load) before it is answered 503; the fetch goes on in the
	// background. A team domain that accepts connections and never answers thus costs a
	// request this much, not the RequestTimeout. Zero means DefaultKeyFetchWait (300 ms); a
	// negative value means do not wait at all.
	KeyFetchWait time.Duration

	// TokenCacheSize is the number of verified tokens remembered, so that a token seen again
	// costs a map lookup instead of an RSA verification. Zero means DefaultTokenCacheSize;
	// a negative value turns the cache off.
	TokenCacheSize int

	// MaxTokenSize is the longest token, in bytes, that is parsed at all.
	// Zero means DefaultMaxTokenSize (16 KiB).
	MaxTokenSize int

	// IdentityCacheSize is the number of get-identity answers remembered, one per token.
	// Zero means DefaultIdentityCacheSize; a negative value turns the cache off (concurrent
	// lookups for one token still share one call).
	IdentityCacheSize int

	// IdentityTTL is how long a get-identity answer is reused; never past the token's exp.
	// Group changes at the identity provider show after at most this long.
	// Zero means DefaultIdentityTTL (5 min).
	IdentityTTL time.Duration

	// GroupsClaim, when set, names a key of the token's "custom" claim that holds the
	// caller's groups (an array of strings, or of {id, name, email} objects), as an identity
	// provider's SAML attribute or OIDC claim passed through by Access. Groups are then read
	// from the token, with no call to get-identity; Claims.Groups holds them.
	GroupsClaim string

	// Logger receives key refresh failures and recoveries. Tokens are never logged.
	// Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock. Nil means time.Now; tests may set it.
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
	groupsClaim        string
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
		groupsClaim:        c.GroupsClaim,
		log:                c.Logger,
		now:                c.Now,
	}
	if len(c.Audiences) == 0 {
		return settings{}, fmt.Errorf("%w: no audience: set Audiences to the application's AUD tag(s)", ErrConfig)
	}
	for _, a := range c.Audiences {
		if strings.TrimSpace(a) == "" {
			return settings{}, fmt.Errorf("%w: an audience is empty", ErrConfig)
		}
		if a != strings.TrimSpace(a) {
			return settings{}, fmt.Errorf("%w: audience %q has surrounding white space", ErrConfig, a)
		}
	}
	s.audiences = append([]string(nil), c.Audiences...)

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

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
