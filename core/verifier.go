package core

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks Access tokens for one application. It is safe for concurrent use. The key
// set is refreshed by the requests that need it; while idle, a Verifier runs only its caches'
// upkeep (a coarse clock and the expiry of entries), which ends once it is garbage collected,
// and at most one timer that fires once at the end of the unknown-kid cool-down to fetch the
// key set a recent token under an unknown kid may need.
type Verifier struct {
	cfg        settings
	keys       *keySource
	clk        *clock
	cache      *tokenCache // nil when disabled
	identities *identityCache
	shared     *sharedIdentities // nil without Config.IdentityStore
	validator  *jwt.Validator
}

// NewVerifier validates cfg and starts loading the team's signing keys. It waits for them at
// most cfg.StartupWait: an application must boot while Access is unreachable, answering 503
// until the keys arrive, rather than fail to start.
//
// Every configuration error wraps [ErrConfig].
func NewVerifier(cfg Config) (*Verifier, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	clk := newClock(s.now, cfg.Now != nil)
	v := &Verifier{
		cfg:   s,
		clk:   clk,
		cache: newTokenCache(s.tokenCacheSize, clk),
		validator: jwt.NewValidator(
			jwt.WithLeeway(s.leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(s.teamDomain),
			jwt.WithAudience(s.audiences...),
			jwt.WithTimeFunc(s.now),
		),
	}
	v.keys = newKeySource(&v.cfg)
	load := func(ctx context.Context, token string, _ time.Time) (*Identity, time.Time, error) {
		id, err := v.cfg.fetchIdentity(ctx, token)
		return id, time.Time{}, err
	}
	if s.store != nil {
		v.shared = &sharedIdentities{cfg: &v.cfg, st: s.store}
		load = v.shared.load
	}
	v.identities = newIdentityCache(&v.cfg, clk, load)
	boot := v.keys.boot()
	if s.startupWait > 0 {
		t := time.NewTimer(s.startupWait)
		defer t.Stop()
		select {
		case <-boot.done:
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
// the origin. Use VerifyHost, or a Guard, to hold each token to its host.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, _, _, err := v.check(ctx, token)
	return c, err
}

// check is Verify for the guard. When the claims come from the cache or go into it, it also
// returns the token's Caller, shared by every request of the token while it is cached; and
// it reports whether they came from the cache.
func (v *Verifier) check(ctx context.Context, token string) (*Claims, *Caller, bool, error) {
	if token == "" {
		return nil, nil, false, errMissingToken
	}
	if len(token) > v.cfg.maxTokenSize {
		return nil, nil, false, invalid(ReasonTooLarge, "the token is too large", nil)
	}
	if v.cache != nil {
		if e := v.cache.get(token); e != nil {
			if c, answered, err := v.cached(e); err != nil {
				return nil, nil, true, err
			} else if answered {
				return c.Claims, c, true, nil
			}
		}
		v.cache.stats.misses.Add(1)
	}
	now := v.cfg.now()
	v.keys.refreshIfDue(now)
	c, key, err := v.verify(ctx, token, now)
	if err != nil || v.cache == nil {
		return c, nil, false, err
	}
	return c, v.cache.put(v, c, strings.Clone(token), key), false, nil
}

// cached answers from a cache entry: its Caller, or the refusal of a token that has expired
// since (or is not valid yet, should the clock step back), with the same leeway and boundaries
// as the first verification. answered is false when the entry is void, its signing key
// withdrawn: the token must be verified again.
func (v *Verifier) cached(e *cachedToken) (c *Caller, answered bool, err error) {
	if e.key.withdrawn.Load() {
		v.cache.remove(e)
		return nil, false, nil
	}
	v.keys.refreshIfDue(time.Unix(0, v.clk.NowNano()))
	v.cache.stats.hits.add()
	switch {
	case !v.clk.before(e.deadline):
		err = invalid(ReasonExpired, "the token has expired", nil)
	case !v.clk.reached(e.notBefore):
		err = invalid(ReasonNotYetValid, "the token is not valid yet", nil)
	default:
		return &e.caller, true, nil
	}
	v.cache.remove(e)
	return nil, true, err
}

// newCaller makes the Caller of a verified token when there is no cache to share one from.
// The token may alias a buffer the framework reuses (fasthttp does): the Caller, which may
// outlive the request, keeps its own copy.
func (v *Verifier) newCaller(c *Claims, token string) *Caller {
	return &Caller{Claims: c, v: v, token: strings.Clone(token)}
}

// verify runs the full check. Before the signature verifies, only the header is parsed (at
// most maxHeaderSize bytes of it) and the signature decoded (at most maxSignatureSize); of
// the payload, nothing is decoded unless the kid is unknown, and then only its first
// maxUnverifiedPayload bytes, for iat (see unverifiedIssuedAt). So a forgery costs at most
// one SHA-256 of the token and one RSA check, however it is padded.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*Claims, *signingKey, error) {
	h, p, sig, ok := splitToken(token)
	if !ok {
		return nil, nil, invalid(ReasonMalformed, "the token is not three base64url segments", nil)
	}
	if len(h) > maxHeaderSize {
		return nil, nil, invalid(ReasonHeaderTooLarge, "the token header is too large", nil)
	}
	hdr, err := decodeHeader(h)
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "the token header is malformed", err)
	}
	switch {
	case hdr.alg != jwt.SigningMethodRS256.Alg():
		return nil, nil, invalid(ReasonAlgorithm, "the token is not signed with RS256", nil)
	case hdr.crit:
		return nil, nil, invalid(ReasonCritical, "the token header lists critical extensions", nil)
	case hdr.kid == "":
		return nil, nil, invalid(ReasonNoKeyID, "the token header has no key ID", nil)
	}
	if len(sig) > b64.EncodedLen(maxSignatureSize) {
		return nil, nil, invalid(ReasonMalformed, "the token signature is too long", nil)
	}
	var sigBuf [maxSignatureSize]byte // no allocation
	signature, err := decodeSegment(sigBuf[:0], sig)
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "the token signature is not base64url", err)
	}
	key, err := v.keys.key(ctx, hdr.kid, now)
	if uk, ok := err.(*unknownKey); ok {
		// Only the issue time is read, and only to choose between two refusals.
		return nil, nil, v.keys.judgeUnknown(uk, unverifiedIssuedAt(p), now)
	}
	if err != nil {
		return nil, nil, err
	}
	digest := sha256.Sum256(bytesOf(token[:len(h)+1+len(p)]))
	if err := rsa.VerifyPKCS1v15(key.pub, crypto.SHA256, digest[:], signature); err != nil {
		return nil, nil, invalid(ReasonSignature, "the token signature is invalid", err)
	}
	payload, err := decodeSegment(nil, p) // kept: it becomes Claims.Raw
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "the token payload is not base64url", err)
	}
	var tc tokenClaims
	if err := tc.decode(payload); err != nil {
		return nil, nil, invalid(ReasonMalformed, "the token payload is malformed", err)
	}
	if err := v.validator.Validate(&tc); err != nil {
		return nil, nil, classify(err)
	}
	if tc.typ != "" && tc.typ != "app" {
		// An organization token (type "org") is Access's global session, not a token of
		// this application.
		return nil, nil, invalid(ReasonTokenType, "the token is not an application token", nil)
	}
	c := tc.claims(payload)
	if v.cfg.groupsClaim != "" {
		c.Groups = groupsFromClaim(c.Custom, v.cfg.groupsClaim)
	}
	return c, key, nil
}

// Bounds on what is read of a token before its signature verifies.
const (
	// maxHeaderSize bounds the header segment, encoded: Access's is about 100 bytes
	// ({"alg":"RS256","kid":"<64 hex digits>","typ":"JWT"}); 1 KiB leaves room for any real
	// header and none for padding.
	maxHeaderSize = 1024
	// maxSignatureSize is the longest signature decoded: that of a 4096-bit RSA key.
	maxSignatureSize = 512
	// maxUnverifiedPayload is how much of the payload segment is decoded, encoded, to read
	// the iat of a token whose kid is unknown: its first 1 KiB, 768 bytes of JSON.
	maxUnverifiedPayload = 1024
)

// unverifiedIssuedAt reads the iat of a payload whose signature has not been checked. It
// decodes only the first maxUnverifiedPayload bytes of the segment, and of those reads only
// the members up to iat, skipping their values; the rest of the payload is never touched.
// It is zero when the payload is not valid JSON up to iat, or has no iat in that prefix:
// Access puts iat among the first few claims (after aud, email and exp in a user's token,
// after common_name in a service token's), a few hundred bytes in at most.
func unverifiedIssuedAt(seg string) time.Time {
	if len(seg) > maxUnverifiedPayload {
		seg = seg[:maxUnverifiedPayload] // a multiple of 4: it decodes whole
	}
	var buf [maxUnverifiedPayload * 3 / 4]byte
	b, err := decodeSegment(buf[:0], seg)
	if err != nil {
		return time.Time{}
	}
	r := jsonReader{data: b}
	if r.open() != nil {
		return time.Time{}
	}
	for {
		key, done, err := r.next()
		if err != nil || done {
			return time.Time{}
		}
		if string(key) == "iat" {
			d, err := numericDate(&r)
			if err != nil {
				return time.Time{}
			}
			return numericTime(d)
		}
		if r.skip() != nil {
			return time.Time{}
		}
	}
}

// b64 is the strict base64url of JWS: no padding, no stray bits, so one token has one spelling.
var b64 = base64.RawURLEncoding.Strict()

// splitToken cuts a compact JWS into its three segments, refusing any other number of dots.
// It also refuses CR and LF, the two bytes outside the base64url alphabet that Go's decoder
// skips (even in strict mode) instead of rejecting: the signature segment is not itself
// signed, so without this one valid token would have endless spellings, each verified and
// cached apart. The decoder rejects every other stray byte.
func splitToken(token string) (header, payload, signature string, ok bool) {
	header, rest, ok1 := strings.Cut(token, ".")
	payload, signature, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(signature, '.') >= 0 ||
		strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return "", "", "", false
	}
	return header, payload, signature, true
}

type jwsHeader struct {
	alg, kid string
	crit     bool
}

func decodeHeader(seg string) (jwsHeader, error) {
	var h jwsHeader
	var buf [maxHeaderSize * 3 / 4]byte // no allocation
	b, err := decodeSegment(buf[:0], seg)
	if err != nil {
		return h, err
	}
	r := jsonReader{data: b}
	if err := r.open(); err != nil {
		return h, err
	}
	for {
		key, done, err := r.next()
		if err != nil || done {
			return h, err
		}
		switch string(key) {
		case "alg":
			h.alg, err = r.str()
		case "kid":
			h.kid, err = r.str()
		case "crit":
			h.crit = true
			err = r.skip()
		default:
			err = r.skip()
		}
		if err != nil {
			return h, err
		}
	}
}

// decodeSegment appends the decoding of seg to dst, without copying seg first.
func decodeSegment(dst []byte, seg string) ([]byte, error) {
	return b64.AppendDecode(dst, bytesOf(seg))
}

// bytesOf views s as bytes without copying it; callers only read them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// classify turns a Validator error into an *Error. The checks come in the order of how much
// they tell: a token for another application is reported as such even if also expired.
func classify(err error) *Error {
	for _, c := range []struct {
		target error
		reason Reason
		msg    string
	}{
		{jwt.ErrTokenRequiredClaimMissing, ReasonMissingClaim, "the token lacks a required claim"},
		{jwt.ErrTokenInvalidIssuer, ReasonIssuer, "the token was issued by another team domain"},
		{jwt.ErrTokenInvalidAudience, ReasonAudience, "the token is for another application"},
		{jwt.ErrTokenExpired, ReasonExpired, "the token has expired"},
		{jwt.ErrTokenNotValidYet, ReasonNotYetValid, "the token is not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, ReasonIssuedInFuture, "the token is issued in the future"},
	} {
		if errors.Is(err, c.target) {
			return invalid(c.reason, c.msg, err)
		}
	}
	return invalid(ReasonMalformed, "the token claims are invalid", err)
}
