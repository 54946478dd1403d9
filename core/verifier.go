package core

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cfaccess/cfaccess/internal/clock"
	"github.com/cfaccess/cfaccess/internal/keyset"
	"github.com/cfaccess/cfaccess/internal/teamclient"
	"github.com/cfaccess/cfaccess/internal/token"
)

// Verifier checks Access tokens for one application. It is safe for concurrent use. The key
// set is refreshed by the requests that need it; while idle, a Verifier runs only its caches'
// upkeep (a coarse clock and the expiry of entries), which ends once it is garbage collected,
// and at most one timer that fires once at the end of the unknown-kid cool-down to fetch the
// key set a recent token under an unknown kid may need.
type Verifier struct {
	cfg        settings
	team       *teamclient.Client
	keys       *keyset.Set
	rules      *token.Validator
	clk        *clock.Clock
	tokens     *tokenCache // nil when off
	identities *identityCache
	shared     *sharedIdentities // nil without Identities.Shared
	warned     onceSet           // misconfigurations that signed tokens revealed, logged once each
}

// NewVerifier validates cfg (see [Config.Validate]) and starts loading the team's signing
// keys. It waits for them at most Keys.StartupWait: an application must boot while Access
// is unreachable, answering 503 until the keys arrive, rather than fail to start.
//
// Every configuration error wraps [ErrConfig].
func NewVerifier(cfg Config) (*Verifier, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		cfg:  s,
		team: teamclient.New(s.teamDomain, s.httpClient, s.requestTimeout),
		rules: token.NewValidator(token.Rules{
			Issuer: s.teamDomain, Audiences: s.audiences, Leeway: s.leeway, Now: s.now,
		}),
		clk: clock.New(s.now, s.preciseNow),
	}
	v.tokens = newTokenCache(s.tokenCacheSize, v.clk)
	var read identityReader
	var load identityLoader = v.fetchIdentity
	if s.store != nil {
		v.shared = newSharedIdentities(&v.cfg, s.store, v.fetchIdentity)
		read, load = v.shared.read, v.shared.load
	}
	v.identities = newIdentityCache(&v.cfg, v.clk, read, load)
	warnIfNotAccess(s)

	var booted <-chan struct{}
	v.keys, booted = keyset.New(keyset.Config{
		Fetch: func(ctx context.Context) ([]byte, error) {
			body, _, err := v.team.Get(ctx, teamclient.CertsPath, "")
			return body, err
		},
		Team:            s.teamDomain,
		Leeway:          s.leeway,
		RefreshInterval: s.refreshInterval,
		Cooldown:        s.unknownKeyCooldown,
		FetchWait:       s.keyFetchWait,
		Now:             s.now,
		Log:             s.log,
	})
	if s.startupWait > 0 {
		t := time.NewTimer(s.startupWait)
		defer t.Stop()
		select {
		case <-booted:
		case <-t.C:
			s.log.Warn("cfaccess: Access signing keys not loaded yet; starting anyway",
				"team", s.teamDomain, "waited", s.startupWait)
		}
	}
	return v, nil
}

// TeamDomain returns the canonical team domain URL, the issuer every token must carry.
func (v *Verifier) TeamDomain() string { return v.cfg.teamDomain }

// Audiences returns a copy of the AUD tags a token may carry: Config.Audiences, then those
// of Config.HostAudiences.
func (v *Verifier) Audiences() []string { return append([]string(nil), v.cfg.audiences...) }

// BindsHosts reports whether v binds hosts to applications (Config.HostAudiences): only then
// does Authenticate read the hosts a request names.
func (v *Verifier) BindsHosts() bool { return v.cfg.hosts != nil }

// Logger returns where v logs: Config.Logger, or slog.Default. Integrations log their own
// findings about v (a middleware built with a mistake) there too.
func (v *Verifier) Logger() *slog.Logger {
	if v == nil {
		return slog.Default()
	}
	return v.cfg.log
}

// Verify checks token and returns its claims. The error is always an [*Error]: [ErrMissingToken]
// for an empty token, [ErrInvalidToken] (with a [Reason]) for one that fails any check, and
// [ErrUnavailable] when the signing keys cannot be obtained ([ReasonKeysUnavailable]), which
// is not the caller's fault, or when the token is recent enough to be signed by a key
// published since the key set was fetched and the set cannot be fetched again yet
// ([ReasonUnknownKeyPending]).
//
// A token that verified once is remembered until it expires: seeing it again costs a cache
// lookup, with exp and nbf checked again and the signing key still required to be in the
// team's current set.
//
// Verify knows no host: with Config.HostAudiences it accepts a token of any application of
// the origin. Use Authenticate to hold each token to the host a request names.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	return c.Claims, nil
}

// Authenticate verifies the token of a request and returns its caller, whose Identity and
// Groups are looked up on demand. hosts are the hosts the request names (its Host header,
// and any a proxy forwarded): with Config.HostAudiences, the token must carry an AUD bound
// to every one of them ([ReasonHostAudience], [ReasonUnboundHost]); without, they are not
// read. The adapters' middleware is built on it; call it to authenticate anything else that
// carries an Access token, such as a WebSocket upgrade or a gRPC call.
//
// Every request of one token gets the same *Caller while the token is cached. Errors are
// those of Verify, and the host refusals.
func (v *Verifier) Authenticate(ctx context.Context, token string, hosts ...string) (*Caller, error) {
	c, err := v.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	if v.cfg.hosts != nil {
		// On every request, cached token or not: the cache is keyed by token, not by host.
		if err := v.checkHosts(c.Claims, hosts); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// caller verifies token and returns its Caller: the cached one, or a new one.
func (v *Verifier) caller(ctx context.Context, tok string) (*Caller, error) {
	if tok == "" {
		return nil, errMissingToken
	}
	if len(tok) > v.cfg.maxTokenSize {
		return nil, invalid(ReasonTooLarge, "the token is too large", nil)
	}
	if v.tokens != nil {
		if e := v.tokens.get(tok); e != nil {
			if c, answered, err := v.cached(e); answered {
				return c, err
			}
		}
		v.tokens.stats.RecordMisses(1)
	}
	now := v.cfg.now()
	v.keys.RefreshIfDue(now)
	claims, key, err := v.verify(ctx, tok, now)
	if err != nil {
		return nil, err
	}
	// The token may alias a buffer the framework reuses (fasthttp does): the Caller, which
	// may outlive the request, keeps its own copy.
	tok = strings.Clone(tok)
	if v.tokens == nil {
		return &Caller{Claims: claims, v: v, token: tok, tokenID: TokenID(tok)}, nil
	}
	return v.tokens.put(v, claims, tok, key), nil
}

// cached answers from a cache entry: its Caller, or the refusal of a token that has expired
// since (or is not valid yet, should the clock step back), with the same leeway and boundaries
// as the first verification. answered is false when the entry is void, its signing key
// withdrawn: the token must be verified again.
func (v *Verifier) cached(e *cachedToken) (c *Caller, answered bool, err error) {
	if e.key.Withdrawn() {
		v.tokens.remove(e)
		return nil, false, nil
	}
	v.keys.RefreshIfDue(time.Unix(0, v.clk.NowNano()))
	v.tokens.stats.RecordHits(1)
	switch {
	case !v.clk.Before(e.deadline):
		err = invalid(ReasonExpired, "the token has expired", nil)
	case !v.clk.Reached(e.notBefore):
		err = invalid(ReasonNotYetValid, "the token is not valid yet", nil)
	default:
		return &e.caller, true, nil
	}
	v.tokens.remove(e)
	return nil, true, err
}

// verify runs the full check: nothing of the payload is read before the signature verifies
// (see package internal/token for what is read before), so a forgery costs at most one
// SHA-256 of the token and one RSA check, however it is padded.
func (v *Verifier) verify(ctx context.Context, tok string, now time.Time) (*Claims, *keyset.Key, error) {
	var p token.Parsed
	if err := p.Parse(tok); err != nil {
		return nil, nil, tokenError(err)
	}
	// The unverified issue time is read only for a kid the set lacks, and only to choose
	// between two refusals.
	key, err := v.keys.Key(ctx, p.KID, now, p.IssuedAt)
	if err != nil {
		return nil, nil, v.cfg.keyError(err)
	}
	payload, err := p.Verify(key.Public)
	if err != nil {
		return nil, nil, tokenError(err)
	}
	tc, err := token.DecodeClaims(payload)
	if err != nil {
		return nil, nil, tokenError(err)
	}
	if err := v.rules.Validate(tc); err != nil {
		e := tokenError(err)
		v.warnIfMisconfigured(e.Reason, tc)
		return nil, nil, e
	}
	return v.claims(tc, payload), key, nil
}

// warnIfMisconfigured logs, once per distinct value, a token that the team's own key signed
// but whose aud (or iss) is not this verifier's: no attacker can mint one, so it is the mark
// of a configuration that names another application (or team domain) than the one Access
// protects, which would otherwise show only as 401s. The values come from signed tokens, so
// their number is that of the team's applications; it is bounded all the same.
func (v *Verifier) warnIfMisconfigured(r Reason, tc *token.Claims) {
	var seen string
	switch r {
	case ReasonAudience:
		seen = "aud:" + strings.Join(tc.Aud, ",")
	case ReasonIssuer:
		seen = "iss:" + tc.Iss
	default:
		return
	}
	if !v.warned.first(seen) {
		return
	}
	if r == ReasonAudience {
		v.cfg.log.Warn("cfaccess: a token signed by the team is for another application: check the configured AUD tags (Config.Audiences, CF_ACCESS_AUD) against the application's in Zero Trust → Access → Applications",
			"token_aud", tc.Aud, "configured", v.cfg.audiences)
		return
	}
	v.cfg.log.Warn("cfaccess: a token signed by the team's key names another issuer: check the team domain (Config.TeamDomain, CF_ACCESS_TEAM_DOMAIN)",
		"token_iss", tc.Iss, "configured", v.cfg.teamDomain)
}

// onceSet remembers up to maxWarned values, for logging each once.
type onceSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

const maxWarned = 64

// first reports whether v is seen for the first time (and there is room to remember it).
func (o *onceSet) first(v string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[v] || len(o.seen) >= maxWarned {
		return false
	}
	if o.seen == nil {
		o.seen = make(map[string]bool)
	}
	o.seen[v] = true
	return true
}
