package core

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// minRSABits is the smallest RSA modulus accepted from the key set.
const minRSABits = 2048

// signingKey is one RSA public key of the team's set. When a refresh no longer lists it, it
// is marked withdrawn, which voids every cached token it signed at once.
type signingKey struct {
	kid       string
	pub       *rsa.PublicKey
	withdrawn atomic.Bool
}

// keySource holds the team's signing keys and decides when to fetch them again.
//
// The policy, and why:
//   - The set is read through an atomic pointer: verification never takes a lock.
//   - At most one fetch runs at a time; every caller that needs a fetch joins the one under
//     way instead of starting its own, and waits for it only briefly (Config.KeyFetchWait):
//     a team domain that hangs must not hold every request for the whole request timeout.
//   - A kid that is not in the set (or a request while no set has loaded) may trigger a fetch,
//     but at most one per cool-down. Inside the cool-down the caller is answered at once: an
//     attacker's stream of invented kids costs the team domain one request per cool-down, and
//     nobody queues behind a rate limiter. When the answer is "try again shortly" (see
//     judgeUnknown), one fetch is scheduled for the end of the cool-down, so that a key
//     published since is learnt without waiting for a client to retry.
//   - The set is refetched in the background once it is older than the refresh interval;
//     after a failed fetch, again one cool-down later. A failure keeps the last good set.
//   - No fetch runs on a request's context: a caller that gives up does not cancel the fetch
//     the others are waiting for.
type keySource struct {
	cfg *settings

	set atomic.Pointer[map[string]*signingKey] // nil until the first successful fetch
	due atomic.Int64                           // UnixNano after which a background refresh starts

	// What unknown kids and missing keys were answered, for Stats.
	unknownKeys, unknownKeysPending, keysUnavailable atomic.Uint64

	mu         sync.Mutex
	flight     *keyFetch       // the fetch under way, if any
	lastForced time.Time       // start of the latest fetch triggered by an unknown kid
	scheduled  bool            // a fetch is set to start at the end of the cool-down
	lastErr    error           // outcome of the latest completed fetch
	loadedAt   time.Time       // when the current set was fetched
	gone       map[string]bool // kids that left the set: their tokens are settled
	ambiguous  string          // kids the latest set listed with two keys, as last logged
}

type keyFetch struct{ done chan struct{} }

func newKeySource(cfg *settings) *keySource {
	return &keySource{cfg: cfg}
}

// boot starts the first fetch and returns it, so that the constructor can wait a little.
// It does not start the unknown-kid cool-down: a key that appears just after start-up is
// fetched at its first use.
func (ks *keySource) boot() *keyFetch {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.startLocked()
}

// key returns the signing key called kid, fetching the set again if the policy allows. For a
// kid that is not in the set it returns an *unknownKey, for judgeUnknown. now is when the
// request arrived.
func (ks *keySource) key(ctx context.Context, kid string, now time.Time) (*signingKey, error) {
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if f := ks.forcedFetch(); f != nil && ks.await(ctx, f) {
		if k := ks.lookup(kid); k != nil {
			return k, nil
		}
	}
	ks.mu.Lock()
	loaded := ks.set.Load() != nil
	// A set fetched after the request arrived lists every key in use by then (Cloudflare
	// publishes a key before it signs with it); a kid that left the set is settled too.
	u := &unknownKey{settled: ks.gone[kid] || !ks.loadedAt.Before(now), loadedAt: ks.loadedAt, fetchErr: ks.lastErr}
	ks.mu.Unlock()
	if !loaded {
		ks.keysUnavailable.Add(1)
		return nil, unavailable(ReasonKeysUnavailable, "the Access signing keys have not loaded", u.fetchErr)
	}
	return nil, u
}

// await waits for f to end, but no longer than the configured wait or ctx allow, and reports
// whether it ended. A fetch that outlasts the wait goes on for the next requests.
func (ks *keySource) await(ctx context.Context, f *keyFetch) bool {
	select {
	case <-f.done:
		return true
	default:
	}
	if ks.cfg.keyFetchWait <= 0 {
		return false
	}
	t := time.NewTimer(ks.cfg.keyFetchWait)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// unknownKey says a kid is not in the current key set (which has loaded), and what the set
// can tell about it.
type unknownKey struct {
	settled  bool      // the set was fetched after the request arrived, or the kid has left it
	loadedAt time.Time // when the set was fetched
	fetchErr error     // why the latest fetch failed, if it did
}

func (u *unknownKey) Error() string { return "unknown key ID" }

// judgeUnknown answers a token whose kid the key set lacks, given the token's unverified
// issue time (zero when absent or unread).
//
// Cloudflare publishes a key before it signs with it, so only a token issued after the set
// was fetched can carry a key the set lacks. Such a token gets "try again shortly" (503),
// not a 401 that would send a browser to log in again for nothing, as long as the set cannot
// be fetched again to settle it. Every other token is invalid: one issued before the fetch
// (minus leeway), in the future (plus leeway: it would fail the iat check anyway), or
// without an iat. Anyone can put any iat in a forgery, so the 503 answers cannot be told
// from a real new key: they get their own reason, not the one of an outage, and a fetch is
// scheduled for the end of the cool-down to settle the question.
func (ks *keySource) judgeUnknown(u *unknownKey, iat, now time.Time) *Error {
	leeway := ks.cfg.leeway
	recent := !iat.IsZero() && !iat.Before(u.loadedAt.Add(-leeway)) && !iat.After(now.Add(leeway))
	switch {
	case u.settled || !recent:
		ks.unknownKeys.Add(1)
		return invalid(ReasonUnknownKey, "the token's signing key is not in the team's key set", nil)
	case u.fetchErr != nil:
		// The kid may well be a new key we failed to fetch: that is not the caller's fault.
		ks.keysUnavailable.Add(1)
		return unavailable(ReasonKeysUnavailable, "the Access signing keys could not be refreshed", u.fetchErr)
	}
	ks.unknownKeysPending.Add(1)
	ks.schedule()
	return unavailable(ReasonUnknownKeyPending, "the token's signing key may be newer than the team's key set; try again shortly", nil)
}

// schedule sets one fetch to start at the end of the unknown-kid cool-down, unless one is
// set already or under way (that one will serve). This timer is the only thing a Verifier
// runs without a request: it fires once, and at most one is pending.
func (ks *keySource) schedule() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.scheduled || ks.flight != nil {
		return
	}
	ks.scheduled = true
	time.AfterFunc(ks.lastForced.Add(ks.cfg.unknownKeyCooldown).Sub(ks.cfg.now()), ks.scheduledFetch)
}

func (ks *keySource) scheduledFetch() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.scheduled = false
	// A request may have started a fetch since; then this one is not needed.
	if now := ks.cfg.now(); ks.flight == nil && now.Sub(ks.lastForced) >= ks.cfg.unknownKeyCooldown {
		ks.lastForced = now
		ks.startLocked()
	}
}

func (ks *keySource) lookup(kid string) *signingKey {
	if set := ks.set.Load(); set != nil {
		return (*set)[kid]
	}
	return nil
}

// forcedFetch returns the fetch a caller with an unknown kid should wait for: the one under
// way, or a new one if the cool-down has passed, or nil inside the cool-down.
func (ks *keySource) forcedFetch() *keyFetch {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.flight != nil {
		return ks.flight
	}
	now := ks.cfg.now()
	if now.Sub(ks.lastForced) < ks.cfg.unknownKeyCooldown {
		return nil
	}
	ks.lastForced = now
	return ks.startLocked()
}

// refreshIfDue starts a background fetch when the set has grown old. It costs one atomic load
// when nothing is due, so every verification calls it.
func (ks *keySource) refreshIfDue(now time.Time) {
	if now.UnixNano() < ks.due.Load() {
		return
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.flight == nil && now.UnixNano() >= ks.due.Load() {
		ks.startLocked()
	}
}

func (ks *keySource) startLocked() *keyFetch {
	f := &keyFetch{done: make(chan struct{})}
	ks.flight = f
	// Until the fetch ends, nothing else is due: callers need not even take the lock.
	ks.due.Store(ks.cfg.now().Add(ks.cfg.refreshInterval).UnixNano())
	go ks.run(f)
	return f
}

func (ks *keySource) run(f *keyFetch) {
	started := ks.cfg.now()
	keys, ambiguous, err := ks.fetch()
	now := ks.cfg.now()

	ks.mu.Lock()
	prev := ks.set.Load()
	hadErr := ks.lastErr != nil
	ks.lastErr = err
	newAmbiguity := false
	if err == nil {
		ks.install(prev, keys)
		ks.loadedAt = started
		ks.due.Store(now.Add(ks.cfg.refreshInterval).UnixNano())
		a := strings.Join(ambiguous, ", ")
		newAmbiguity = a != "" && a != ks.ambiguous
		ks.ambiguous = a
	} else {
		ks.due.Store(now.Add(ks.cfg.unknownKeyCooldown).UnixNano())
	}
	ks.flight = nil
	ks.mu.Unlock()
	// Log before releasing the waiters, so that what they do next comes after it in the log.
	defer close(f.done)

	log := ks.cfg.log
	switch {
	case err != nil && prev == nil:
		log.Warn("cfaccess: Access signing keys could not be loaded; requests are answered 503 until they are",
			"team", ks.cfg.teamDomain, "error", err)
	case err != nil:
		log.Warn("cfaccess: refreshing Access signing keys failed; keeping the last good set",
			"team", ks.cfg.teamDomain, "keys", len(*prev), "error", err)
	case prev == nil || hadErr:
		log.Info("cfaccess: Access signing keys loaded", "team", ks.cfg.teamDomain, "kids", kids(keys))
	}
	if newAmbiguity { // logged once, not at every refresh that finds it again
		log.Warn("cfaccess: the Access key set lists a kid twice with different keys; neither is used",
			"team", ks.cfg.teamDomain, "kids", ambiguous)
	}
}

// install publishes keys, keeping the *signingKey of every key that is still listed so that
// the tokens it signed stay cached, and withdrawing the rest. It holds ks.mu.
func (ks *keySource) install(prev *map[string]*signingKey, keys map[string]*signingKey) {
	if prev != nil {
		for kid, old := range *prev {
			if k, ok := keys[kid]; ok && k.pub.Equal(old.pub) {
				keys[kid] = old
				continue
			}
			old.withdrawn.Store(true)
			if len(ks.gone) >= maxGoneKids || ks.gone == nil {
				ks.gone = make(map[string]bool) // Cloudflare withdraws a key every few weeks
			}
			ks.gone[kid] = true
		}
	}
	for kid := range keys {
		delete(ks.gone, kid)
	}
	ks.set.Store(&keys)
}

// maxGoneKids bounds the memory of withdrawn kids, against a team domain that churns keys.
const maxGoneKids = 64

func (ks *keySource) fetch() (map[string]*signingKey, []string, error) {
	body, _, err := ks.cfg.get(context.Background(), certsPath, "")
	if err != nil {
		return nil, nil, err
	}
	return parseKeySet(body)
}

// parseKeySet reads the "keys" of a certs document. Keys that are not RS256 signing keys of at
// least 2048 bits are skipped. A kid listed twice with different keys (or once with a key
// that is skipped) is ambiguous: neither is used, and its kid is returned in ambiguous, so
// that no token can choose which of two keys verifies it. The same key listed twice is
// harmless. A set left with no key is an error, so the last good set stays.
func parseKeySet(body []byte) (keys map[string]*signingKey, ambiguous []string, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("certs: not a JSON key set: %w", err)
	}
	keys = make(map[string]*signingKey, len(doc.Keys))
	listed := make(map[string]bool, len(doc.Keys)) // every kid seen, usable or not
	var skipped []error
	for i, raw := range doc.Keys {
		k, err := parseKey(raw)
		kid := jwkKID(raw)
		if listed[kid] && kid != "" {
			if prev, ok := keys[kid]; !ok || k == nil || !prev.pub.Equal(k.pub) {
				ambiguous = append(ambiguous, kid)
			}
		}
		listed[kid] = true
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys[k.kid] = k
	}
	slices.Sort(ambiguous)
	ambiguous = slices.Compact(ambiguous)
	for _, kid := range ambiguous {
		delete(keys, kid)
		skipped = append(skipped, fmt.Errorf("kid %q listed with two different keys", kid))
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("certs: no usable RS256 key among %d: %w", len(doc.Keys), errors.Join(skipped...))
	}
	return keys, ambiguous, nil
}

// jwkKID reads the kid of a JWK, usable or not, as jwkset reads it.
func jwkKID(raw json.RawMessage) string {
	var k struct {
		KID string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &k)
	return k.KID
}

func parseKey(raw json.RawMessage) (*signingKey, error) {
	jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	m := jwk.Marshal()
	pub, ok := jwk.Key().(*rsa.PublicKey)
	switch {
	case m.KID == "":
		return nil, errors.New("no kid")
	case !ok:
		return nil, fmt.Errorf("kid %q: key type %q, want RSA", m.KID, m.KTY)
	case m.ALG != "" && m.ALG != jwkset.AlgRS256:
		return nil, fmt.Errorf("kid %q: alg %q, want RS256", m.KID, m.ALG)
	case m.USE != "" && m.USE != jwkset.UseSig:
		return nil, fmt.Errorf("kid %q: use %q, want sig", m.KID, m.USE)
	case pub.N.BitLen() < minRSABits:
		return nil, fmt.Errorf("kid %q: %d-bit RSA key, want at least %d", m.KID, pub.N.BitLen(), minRSABits)
	}
	return &signingKey{kid: m.KID, pub: pub}, nil
}

func kids(keys map[string]*signingKey) []string {
	out := make([]string, 0, len(keys))
	for kid := range keys {
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}
