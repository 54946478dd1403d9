package core

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"
)

// IdentityStore is a store that the instances of a fleet share, such as Redis or Valkey
// (package github.com/cfaccess/cfaccess/core/redisstore), set as Config.IdentityStore. An
// instance that looks up a token's identity at get-identity leaves the answer there, and the
// other instances find it instead of asking Access again: one get-identity call per token
// for the whole fleet rather than one per instance.
//
// It is a plain byte store. The Verifier names its entries with a keyed hash of the token
// and seals them (see Config.IdentityStoreKey), so a store never holds a token, and whoever
// can write to it cannot grant a group: an entry that fails to open is ignored. The store is
// read only for a token that has verified, and a store that fails, hangs or answers garbage
// costs a lookup at Access, never a refusal or an allow. Methods may be called concurrently.
type IdentityStore interface {
	// Get returns the value stored under key, or nil and no error when there is none. The
	// Verifier refuses, unread, a value longer than MaxIdentityStoreValueSize; a store may
	// stop reading there.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl (always at least a millisecond), replacing any
	// value there.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// MinIdentityStoreKeySize is the shortest Config.IdentityStoreKey, in bytes: 256 bits.
const MinIdentityStoreKeySize = 32

// MaxIdentityStoreValueSize is the longest value a Verifier writes to an IdentityStore: a
// get-identity document of the largest size read from Access, sealed.
const MaxIdentityStoreValueSize = maxBodySize + sealOverhead

// StoreStats counts a Verifier's use of its IdentityStore. The counters only grow. They
// stay zero without a store.
type StoreStats struct {
	Hits        uint64 // lookups answered by an entry of the store: a get-identity call saved each
	Misses      uint64 // lookups that found no entry, each followed by a get-identity call
	Errors      uint64 // reads that failed or timed out, each followed by a get-identity call
	Rejected    uint64 // entries ignored: expired, or not sealed for this token and team with the key
	Writes      uint64 // answers of get-identity written to the store
	WriteErrors uint64 // writes that failed or timed out
}

// The sealed entry:
//
//	version (1 byte) | salt (32 bytes) | AES-256-GCM( expiry (8 bytes, Unix ms) | document )
//
// Each entry has a key and a nonce of its own, derived by HKDF-SHA256 from the sealing key
// and the entry's random salt, so the fleet's one key may seal any number of entries (a
// random 96-bit GCM nonce under one key would be good for about 2³² of them). The associated
// data binds the entry to its team domain and its token (by the keyed hash that also names
// it): an entry moved to another token's name, or another team's, does not open.
const (
	sealVersion  = 1
	saltSize     = 32
	expirySize   = 8
	sealOverhead = 1 + saltSize + expirySize + 16 // version, salt, expiry, GCM tag
	nameKeyInfo  = "cfaccess identity store v1: naming key"
	sealKeyInfo  = "cfaccess identity store v1: sealing key"
	entryInfo    = "cfaccess identity store v1: entry key and nonce"
	aadLabel     = "cfaccess identity store v1"
)

var errEntrySeal = errors.New("the entry does not open with this key for this token and team: written with another key, or tampered with")

// storeSettings is the validated store configuration, kept in settings.
type storeSettings struct {
	store   IdentityStore
	timeout time.Duration
	nameKey []byte // HMAC-SHA256 key that names entries
	sealKey []byte // HKDF secret of each entry's key
}

// newStoreSettings validates the store fields of c; nil without a store.
func newStoreSettings(c Config) (*storeSettings, error) {
	timeout := orDefault(c.IdentityStoreTimeout, DefaultIdentityStoreTimeout)
	switch {
	case timeout < 0:
		return nil, fmt.Errorf("%w: IdentityStoreTimeout is negative (%s)", ErrConfig, timeout)
	case c.IdentityStore == nil && c.IdentityStoreKey != nil:
		return nil, fmt.Errorf("%w: IdentityStoreKey is set without an IdentityStore", ErrConfig)
	case c.IdentityStore == nil:
		return nil, nil
	case isNilPointer(c.IdentityStore):
		return nil, fmt.Errorf("%w: IdentityStore is a nil %T", ErrConfig, c.IdentityStore)
	case c.IdentityStoreKey == nil:
		return nil, fmt.Errorf("%w: IdentityStore needs IdentityStoreKey: a random secret of at least %d bytes that every instance sharing the store is given", ErrConfig, MinIdentityStoreKeySize)
	case len(c.IdentityStoreKey) < MinIdentityStoreKeySize:
		return nil, fmt.Errorf("%w: IdentityStoreKey is %d bytes; it must be at least %d random bytes", ErrConfig, len(c.IdentityStoreKey), MinIdentityStoreKeySize)
	}
	s := &storeSettings{store: c.IdentityStore, timeout: timeout}
	var err error
	if s.nameKey, err = hkdf.Key(sha256.New, c.IdentityStoreKey, nil, nameKeyInfo, 32); err != nil {
		return nil, err
	}
	if s.sealKey, err = hkdf.Key(sha256.New, c.IdentityStoreKey, nil, sealKeyInfo, 32); err != nil {
		return nil, err
	}
	return s, nil
}

// isNilPointer reports whether v, an interface value that is not nil, holds a nil pointer
// (or map, func…), whose methods would fail on every call.
func isNilPointer(v any) bool {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// sharedIdentities is the identity cache's loader when a store is configured: the store
// first, then get-identity, whose answer it leaves in the store for the other instances.
type sharedIdentities struct {
	cfg   *settings
	st    *storeSettings
	stats storeCounters
	// whether the latest read, and the latest write, failed; logged on each change
	readFailing, writeFailing atomic.Bool
}

type storeCounters struct {
	hits, misses, errors, rejected, writes, writeErrors atomic.Uint64
}

func (c *storeCounters) snapshot() StoreStats {
	return StoreStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errors.Load(),
		Rejected: c.rejected.Load(), Writes: c.writes.Load(), WriteErrors: c.writeErrors.Load(),
	}
}

// load is an identityLoader. token has verified here; its exp is exp.
func (s *sharedIdentities) load(ctx context.Context, token string, exp time.Time) (*Identity, time.Time, error) {
	name := s.name(token)
	key := hex.EncodeToString(name)
	if id, until, ok := s.read(ctx, key, name, exp); ok {
		return id, until, nil
	}
	id, err := s.cfg.fetchIdentity(ctx, token)
	if err != nil {
		return nil, time.Time{}, err // failures are for this instance to remember, not the fleet
	}
	now := s.cfg.now()
	until := earliest(now.Add(s.cfg.identityTTL), exp)
	if ttl := until.Sub(now); ttl >= time.Millisecond && len(id.Raw) <= maxBodySize {
		// The request does not wait for the write; the write waits no longer than a read.
		go s.write(context.WithoutCancel(ctx), key, name, id.Raw, until, ttl)
	}
	return id, until, nil
}

// name is the keyed hash of the team and the token that names the token's entry: no one
// without the key can tell which entry belongs to a token, even one who holds the token.
func (s *sharedIdentities) name(token string) []byte {
	m := hmac.New(sha256.New, s.st.nameKey)
	m.Write(bytesOf(s.cfg.teamDomain))
	m.Write([]byte{0})
	m.Write(bytesOf(token))
	return m.Sum(nil)
}

// read returns the identity in the entry named key, and until when it may be used, when
// there is one that opens and has not expired.
func (s *sharedIdentities) read(ctx context.Context, key string, name []byte, exp time.Time) (*Identity, time.Time, bool) {
	val, err := s.call(ctx, func(ctx context.Context) ([]byte, error) { return s.st.store.Get(ctx, key) })
	if err != nil {
		s.stats.errors.Add(1)
		s.health(&s.readFailing, "reads", err)
		return nil, time.Time{}, false
	}
	s.health(&s.readFailing, "reads", nil)
	if len(val) == 0 {
		s.stats.misses.Add(1)
		return nil, time.Time{}, false
	}
	now := s.cfg.now()
	doc, expiry, err := s.open(val, name)
	if err == nil && !now.Before(expiry) {
		s.stats.rejected.Add(1)
		// A clock ahead of the writer's, or an entry kept past its TTL: no sign of an attack.
		s.cfg.log.Debug("cfaccess: identity store entry expired; looking the identity up at Access", "entry", key)
		return nil, time.Time{}, false
	}
	var id *Identity
	if err == nil {
		id, err = decodeIdentity(doc)
	}
	if err != nil {
		s.stats.rejected.Add(1)
		s.cfg.log.Warn("cfaccess: identity store entry rejected; looking the identity up at Access", "entry", key, "error", err)
		return nil, time.Time{}, false
	}
	s.stats.hits.Add(1)
	return id, earliest(expiry, exp, now.Add(s.cfg.identityTTL)), true
}

// write seals doc, valid until until, into the entry named key for ttl.
func (s *sharedIdentities) write(ctx context.Context, key string, name, doc []byte, until time.Time, ttl time.Duration) {
	val, err := s.seal(doc, name, until)
	if err == nil {
		_, err = s.call(ctx, func(ctx context.Context) ([]byte, error) { return nil, s.st.store.Set(ctx, key, val, ttl) })
	}
	s.health(&s.writeFailing, "writes", err) // first: a test that sees the count sees the log too
	if err != nil {
		s.stats.writeErrors.Add(1)
		return
	}
	s.stats.writes.Add(1)
}

// call runs op with the store timeout, and returns when it does or when the timeout passes,
// whichever comes first, whatever the store does with its context: a store client that
// ignores deadlines, or a hanging server, cannot hold a request longer. A panic of the store
// is an error.
func (s *sharedIdentities) call(ctx context.Context, op func(context.Context) ([]byte, error)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.st.timeout)
	defer cancel()
	type result struct {
		val []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("the identity store panicked: %v", r)}
			}
		}()
		val, err := op(ctx)
		if len(val) > MaxIdentityStoreValueSize {
			val, err = nil, fmt.Errorf("the identity store returned %d bytes, more than MaxIdentityStoreValueSize", len(val))
		}
		done <- result{val, err}
	}()
	select {
	case r := <-done:
		return r.val, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("the identity store did not answer within %s", s.st.timeout)
	}
}

// health logs the changes of reads, or writes, between succeeding and failing, rather than
// every failure: while a store is down, every new token would log one.
func (s *sharedIdentities) health(failing *atomic.Bool, op string, err error) {
	switch {
	case err != nil && !failing.Swap(true):
		s.cfg.log.Warn("cfaccess: identity store "+op+" failing; looking identities up at Access", "error", err)
	case err == nil && failing.Swap(false):
		s.cfg.log.Info("cfaccess: identity store " + op + " succeed again")
	}
}

// seal makes the entry of doc, valid until until, for the token named name.
func (s *sharedIdentities) seal(doc, name []byte, until time.Time) ([]byte, error) {
	out := make([]byte, 1+saltSize, 1+saltSize+expirySize+len(doc)+16)
	out[0] = sealVersion
	salt := out[1:]
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, nonce, err := s.entryCipher(salt)
	if err != nil {
		return nil, err
	}
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, expirySize+len(doc)), uint64(until.UnixMilli()))
	plain = append(plain, doc...)
	return aead.Seal(out, nonce, plain, s.aad(name)), nil
}

// open returns the document and expiry of an entry sealed for the token named name.
func (s *sharedIdentities) open(val, name []byte) (doc []byte, expiry time.Time, err error) {
	if len(val) < sealOverhead {
		return nil, time.Time{}, fmt.Errorf("the entry is %d bytes, shorter than any sealed entry", len(val))
	}
	if val[0] != sealVersion {
		return nil, time.Time{}, fmt.Errorf("the entry has format %d; this version reads %d", val[0], sealVersion)
	}
	salt, sealed := val[1:1+saltSize], val[1+saltSize:]
	aead, nonce, err := s.entryCipher(salt)
	if err != nil {
		return nil, time.Time{}, err
	}
	plain, err := aead.Open(nil, nonce, sealed, s.aad(name))
	if err != nil { // the length check above leaves room for the expiry in what opens
		return nil, time.Time{}, errEntrySeal
	}
	expiry = time.UnixMilli(int64(binary.BigEndian.Uint64(plain)))
	return plain[expirySize:], expiry, nil
}

// entryCipher derives an entry's AES-256-GCM key and nonce from its salt.
func (s *sharedIdentities) entryCipher(salt []byte) (cipher.AEAD, []byte, error) {
	km, err := hkdf.Key(sha256.New, s.st.sealKey, salt, entryInfo, 32+12)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(km[:32])
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	return aead, km[32:], err
}

// aad is an entry's associated data: the format, the team domain and the token's name.
func (s *sharedIdentities) aad(name []byte) []byte {
	var b bytes.Buffer
	b.WriteString(aadLabel)
	b.WriteByte(0)
	b.WriteString(s.cfg.teamDomain)
	b.WriteByte(0)
	b.Write(name)
	return b.Bytes()
}

func earliest(t time.Time, more ...time.Time) time.Time {
	for _, u := range more {
		if u.Before(t) {
			t = u
		}
	}
	return t
}
