// Package keyset holds a team's signing keys and decides when to fetch them again: the
// availability of verification without amplification of what attackers send.
//
// The policy, and why:
//   - The set is read through an atomic pointer: verification never takes a lock.
//   - At most one fetch runs at a time; every caller that needs a fetch joins the one under
//     way instead of starting its own, and waits for it only briefly (Config.FetchWait): a
//     team domain that hangs must not hold every request for the whole request timeout.
//   - A kid that is not in the set (or a request while no set has loaded) may trigger a fetch,
//     but at most one per cool-down. Inside the cool-down the caller is answered at once: an
//     attacker's stream of invented kids costs the team domain one request per cool-down, and
//     nobody queues behind a rate limiter. When the answer is "try again shortly" (Pending),
//     one fetch is scheduled for the end of the cool-down, so that a key published since is
//     learnt without waiting for a client to retry.
//   - The set is refetched in the background once it is older than the refresh interval;
//     after a failed fetch, again one cool-down later. A failure keeps the last good set.
//   - No fetch runs on a request's context: a caller that gives up does not cancel the fetch
//     the others are waiting for.
//   - A key that a fetch no longer lists is marked withdrawn, which voids at once whatever
//     was trusted because it verified (the tokens a cache holds).
package keyset

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what a Set needs: how to fetch the certs document, and the policy's durations.
type Config struct {
	Fetch           func(context.Context) ([]byte, error) // GET <team>/cdn-cgi/access/certs
	Team            string                                // for log lines
	Leeway          time.Duration                         // the clock skew tolerated on iat
	RefreshInterval time.Duration                         // how old the set may grow
	Cooldown        time.Duration                         // least time between two forced fetches
	FetchWait       time.Duration                         // how long a caller waits for a fetch under way
	Now             func() time.Time
	Log             *slog.Logger
}

// Key is one RSA public key of the team's set.
type Key struct {
	KID       string
	Public    *rsa.PublicKey
	withdrawn atomic.Bool
}

// Withdrawn reports whether a fetch since has no longer listed the key.
func (k *Key) Withdrawn() bool { return k.withdrawn.Load() }

// Kind is why a Set has no key for a kid.
type Kind uint8

const (
	// Unknown: the kid is not in the set, and the set settles it: the token is invalid.
	Unknown Kind = iota + 1
	// Pending: the kid is not in the set, but the token may carry a key published since the
	// set was fetched, and the set cannot be fetched again yet: try again shortly. Anyone
	// can mint such a token with an invented kid, so this is no sign of an outage.
	Pending
	// Unavailable: no set has loaded yet, or the fetch that could settle the kid failed.
	Unavailable
)

// Error is why Key returned no key.
type Error struct {
	Kind Kind
	Err  error // the latest fetch's failure, for Unavailable
}

func (e *Error) Error() string {
	switch e.Kind {
	case Pending:
		return "the signing key may be newer than the key set"
	case Unavailable:
		if e.Err != nil {
			return "the signing keys are unavailable: " + e.Err.Error()
		}
		return "the signing keys are unavailable"
	}
	return "unknown key ID"
}

func (e *Error) Unwrap() error { return e.Err }

// Stats is a snapshot of a Set.
type Stats struct {
	KIDs        []string  // of the current set, sorted; empty until one loads
	LoadedAt    time.Time // when the current set was fetched; zero until then
	Err         error     // why the latest fetch failed; nil after a success
	Unknown     uint64    // kids answered Unknown
	Pending     uint64    // kids answered Pending
	Unavailable uint64    // lookups answered Unavailable
}

// Set is a team's key set and its fetch policy. It is safe for concurrent use.
type Set struct {
	cfg Config

	set atomic.Pointer[map[string]*Key] // nil until the first successful fetch
	due atomic.Int64                    // UnixNano after which a background refresh starts

	unknown, pending, unavailable atomic.Uint64

	mu         sync.Mutex
	flight     *fetch          // the fetch under way, if any
	lastForced time.Time       // start of the latest fetch triggered by an unknown kid
	scheduled  bool            // a fetch is set to start at the end of the cool-down
	lastErr    error           // outcome of the latest completed fetch
	loadedAt   time.Time       // when the current set was fetched
	gone       map[string]bool // kids that left the set: their tokens are settled
	ambiguous  string          // kids the latest set listed with two keys, as last logged
}

type fetch struct{ done chan struct{} }

// New returns a Set and starts its first fetch, whose end the returned channel signals, so
// that a constructor can wait for it a little. It does not start the unknown-kid cool-down:
// a key that appears just after start-up is fetched at its first use.
func New(cfg Config) (*Set, <-chan struct{}) {
	s := &Set{cfg: cfg}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s, s.startLocked().done
}

// Key returns the key called kid, fetching the set again if the policy allows. now is when
// the request arrived; iat returns the token's unverified issue time (zero when it has
// none), and is called only for a kid that is not in the set. Otherwise the error is an
// *Error.
func (s *Set) Key(ctx context.Context, kid string, now time.Time, iat func() time.Time) (*Key, error) {
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	if f := s.forcedFetch(); f != nil && s.await(ctx, f) {
		if k := s.lookup(kid); k != nil {
			return k, nil
		}
	}
	s.mu.Lock()
	// A fetch may have installed the kid since the lookups above; the set and loadedAt are
	// installed under this lock, so this look settles it.
	if k := s.lookup(kid); k != nil {
		s.mu.Unlock()
		return k, nil
	}
	loaded := s.set.Load() != nil
	// A set fetched after the request arrived lists every key in use by then (Cloudflare
	// publishes a key before it signs with it); a kid that left the set is settled too.
	settled, loadedAt, fetchErr := s.gone[kid] || !s.loadedAt.Before(now), s.loadedAt, s.lastErr
	s.mu.Unlock()
	if !loaded {
		s.unavailable.Add(1)
		return nil, &Error{Kind: Unavailable, Err: fetchErr}
	}
	return nil, s.judge(settled, loadedAt, fetchErr, iat(), now)
}

// judge answers a token whose kid the loaded set lacks, given its unverified issue time.
//
// Cloudflare publishes a key before it signs with it, so only a token issued after the set
// was fetched can carry a key the set lacks. Such a token gets "try again shortly", not a
// refusal that would send a browser to log in again for nothing, as long as the set cannot
// be fetched again to settle it. Every other token is Unknown: one issued before the fetch
// (minus leeway), in the future (plus leeway: it would fail the iat check anyway), or
// without an iat. Anyone can put any iat in a forgery, so Pending cannot be told from a real
// new key: it is not the answer of an outage, and a fetch is scheduled for the end of the
// cool-down to settle the question.
func (s *Set) judge(settled bool, loadedAt time.Time, fetchErr error, iat, now time.Time) *Error {
	leeway := s.cfg.Leeway
	recent := !iat.IsZero() && !iat.Before(loadedAt.Add(-leeway)) && !iat.After(now.Add(leeway))
	switch {
	case settled || !recent:
		s.unknown.Add(1)
		return &Error{Kind: Unknown}
	case fetchErr != nil:
		// The kid may well be a new key we failed to fetch: that is not the caller's fault.
		s.unavailable.Add(1)
		return &Error{Kind: Unavailable, Err: fetchErr}
	}
	s.pending.Add(1)
	s.schedule()
	return &Error{Kind: Pending}
}

// await waits for f to end, but no longer than the configured wait or ctx allow, and reports
// whether it ended. A fetch that outlasts the wait goes on for the next requests.
func (s *Set) await(ctx context.Context, f *fetch) bool {
	select {
	case <-f.done:
		return true
	default:
	}
	if s.cfg.FetchWait <= 0 {
		return false
	}
	t := time.NewTimer(s.cfg.FetchWait)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// schedule sets one fetch to start at the end of the unknown-kid cool-down, unless one is
// set already or under way (that one will serve). This timer is the only thing a Set runs
// without a request: it fires once, and at most one is pending.
func (s *Set) schedule() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scheduled || s.flight != nil {
		return
	}
	s.scheduled = true
	time.AfterFunc(s.lastForced.Add(s.cfg.Cooldown).Sub(s.cfg.Now()), s.scheduledFetch)
}

func (s *Set) scheduledFetch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheduled = false
	// A request may have started a fetch since; then this one is not needed.
	if now := s.cfg.Now(); s.flight == nil && now.Sub(s.lastForced) >= s.cfg.Cooldown {
		s.lastForced = now
		s.startLocked()
	}
}

func (s *Set) lookup(kid string) *Key {
	if set := s.set.Load(); set != nil {
		return (*set)[kid]
	}
	return nil
}

// forcedFetch returns the fetch a caller with an unknown kid should wait for: the one under
// way, or a new one if the cool-down has passed, or nil inside the cool-down.
func (s *Set) forcedFetch() *fetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight != nil {
		return s.flight
	}
	now := s.cfg.Now()
	if now.Sub(s.lastForced) < s.cfg.Cooldown {
		return nil
	}
	s.lastForced = now
	return s.startLocked()
}

// RefreshIfDue starts a background fetch when the set has grown old. It costs one atomic
// load when nothing is due, so every verification calls it.
func (s *Set) RefreshIfDue(now time.Time) {
	if now.UnixNano() < s.due.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight == nil && now.UnixNano() >= s.due.Load() {
		s.startLocked()
	}
}

func (s *Set) startLocked() *fetch {
	f := &fetch{done: make(chan struct{})}
	s.flight = f
	// Until the fetch ends, nothing else is due: callers need not even take the lock.
	s.due.Store(s.cfg.Now().Add(s.cfg.RefreshInterval).UnixNano())
	go s.run(f)
	return f
}

func (s *Set) run(f *fetch) {
	started := s.cfg.Now()
	keys, ambiguous, err := s.fetch()
	now := s.cfg.Now()

	s.mu.Lock()
	prev := s.set.Load()
	hadErr := s.lastErr != nil
	s.lastErr = err
	newAmbiguity := false
	if err == nil {
		s.install(prev, keys)
		s.loadedAt = started
		s.due.Store(now.Add(s.cfg.RefreshInterval).UnixNano())
		a := strings.Join(ambiguous, ", ")
		newAmbiguity = a != "" && a != s.ambiguous
		s.ambiguous = a
	} else {
		s.due.Store(now.Add(s.cfg.Cooldown).UnixNano())
	}
	s.flight = nil
	s.mu.Unlock()
	// Log before releasing the waiters, so that what they do next comes after it in the log.
	defer close(f.done)

	log := s.cfg.Log
	switch {
	case err != nil && prev == nil:
		log.Warn("cfaccess: Access signing keys could not be loaded; requests are answered 503 until they are",
			"team", s.cfg.Team, "error", err)
	case err != nil:
		log.Warn("cfaccess: refreshing Access signing keys failed; keeping the last good set",
			"team", s.cfg.Team, "keys", len(*prev), "error", err)
	case prev == nil || hadErr:
		log.Info("cfaccess: Access signing keys loaded", "team", s.cfg.Team, "kids", kids(keys))
	}
	if newAmbiguity { // logged once, not at every refresh that finds it again
		log.Warn("cfaccess: the Access key set lists a kid twice with different keys; neither is used",
			"team", s.cfg.Team, "kids", ambiguous)
	}
}

// install publishes keys, keeping the *Key of every key that is still listed so that what
// it verified stays trusted, and withdrawing the rest. It holds s.mu.
func (s *Set) install(prev *map[string]*Key, keys map[string]*Key) {
	if prev != nil {
		for kid, old := range *prev {
			if k, ok := keys[kid]; ok && k.Public.Equal(old.Public) {
				keys[kid] = old
				continue
			}
			old.withdrawn.Store(true)
			if len(s.gone) >= maxGoneKids || s.gone == nil {
				s.gone = make(map[string]bool) // Cloudflare withdraws a key every few weeks
			}
			s.gone[kid] = true
		}
	}
	for kid := range keys {
		delete(s.gone, kid)
	}
	s.set.Store(&keys)
}

// maxGoneKids bounds the memory of withdrawn kids, against a team domain that churns keys.
const maxGoneKids = 64

func (s *Set) fetch() (map[string]*Key, []string, error) {
	body, err := s.cfg.Fetch(context.Background())
	if err != nil {
		return nil, nil, err
	}
	return Parse(body)
}

// Stats returns a snapshot of s.
func (s *Set) Stats() Stats {
	s.mu.Lock()
	st := Stats{LoadedAt: s.loadedAt, Err: s.lastErr}
	s.mu.Unlock()
	st.Unknown, st.Pending, st.Unavailable = s.unknown.Load(), s.pending.Load(), s.unavailable.Load()
	if set := s.set.Load(); set != nil {
		st.KIDs = kids(*set)
	}
	return st
}

func kids(keys map[string]*Key) []string {
	out := make([]string, 0, len(keys))
	for kid := range keys {
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}
