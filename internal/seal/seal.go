// Package seal names and seals the identity-store entries that the instances of a fleet
// share, under a key they share, so that a store never holds a token or a readable
// identity, and whoever can write to it cannot grant a group.
//
// An entry is
//
//	version (1 byte) | nonce (24 bytes) | XChaCha20-Poly1305( expiry (8 bytes, Unix ms) | document )
//
// under a key derived by HKDF-SHA256 from the fleet's key. XChaCha20's 192-bit nonces may be
// drawn at random for any number of entries under one key (a random 96-bit AES-GCM nonce
// would be good for about 2³² of them), so one AEAD serves every entry and sealing or
// opening one costs no key derivation. The associated data binds the entry to its team
// domain and its token, by the keyed hash that also names it: an entry moved to another
// token's name, or another team's, does not open.
package seal

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// MinKeySize is the shortest key, in bytes: 256 bits.
const MinKeySize = 32

// Overhead is how much longer an entry is than its document.
const Overhead = 1 + chacha20poly1305.NonceSizeX + expirySize + chacha20poly1305.Overhead

const (
	version     = 2
	expirySize  = 8
	nameKeyInfo = "cfaccess identity store v2: naming key"
	sealKeyInfo = "cfaccess identity store v2: sealing key"
	aadLabel    = "cfaccess identity store v2"
)

// ErrOpen is the error of an entry that does not open.
var ErrOpen = errors.New("the entry does not open with this key for this token and team: written with another key, or tampered with")

// Name is the name of a token's entry.
type Name [sha256.Size]byte

// Sealer names and seals the entries of one team domain under one key. It is safe for
// concurrent use.
type Sealer struct {
	team    string
	scratch sync.Pool // of *scratch
	aead    interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	}
}

// New returns the sealer of team's entries under key, at least MinKeySize random bytes.
func New(team string, key []byte) (*Sealer, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("the key is %d bytes; it must be at least %d random bytes", len(key), MinKeySize)
	}
	nameKey, err := hkdf.Key(sha256.New, key, nil, nameKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	sealKey, err := hkdf.Key(sha256.New, key, nil, sealKeyInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	if err != nil {
		return nil, err
	}
	s := &Sealer{team: team, aead: aead}
	s.scratch.New = func() any { return &scratch{mac: hmac.New(sha256.New, nameKey)} }
	return s, nil
}

// scratch is what naming and sealing an entry need for a moment: the naming HMAC, and room
// for its input or an entry's associated data. Pooled, so that neither allocates.
type scratch struct {
	mac hash.Hash
	buf []byte
}

// Name is the keyed hash of the team and the token that names the token's entry: no one
// without the key can tell which entry belongs to a token, even one who holds the token.
func (s *Sealer) Name(token string) Name {
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.mac.Reset()
	sc.buf = append(append(append(sc.buf[:0], s.team...), 0), token...)
	sc.mac.Write(sc.buf)
	var n Name
	sc.mac.Sum(n[:0])
	return n
}

// Seal makes the entry of doc, valid until until, for the token named name.
func (s *Sealer) Seal(doc []byte, name Name, until time.Time) ([]byte, error) {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, Overhead+len(doc))
	out[0] = version
	nonce := out[1:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, expirySize+len(doc)), uint64(until.UnixMilli()))
	plain = append(plain, doc...)
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.buf = s.aad(sc.buf[:0], name)
	return s.aead.Seal(out, nonce, plain, sc.buf), nil
}

// Open returns the document and expiry of an entry sealed for the token named name. It
// leaves val as it is.
func (s *Sealer) Open(val []byte, name Name) (doc []byte, expiry time.Time, err error) {
	if len(val) < Overhead {
		return nil, time.Time{}, fmt.Errorf("the entry is %d bytes, shorter than any sealed entry", len(val))
	}
	if val[0] != version {
		return nil, time.Time{}, fmt.Errorf("the entry has format %d; this version reads %d", val[0], version)
	}
	nonce, sealed := val[1:1+chacha20poly1305.NonceSizeX], val[1+chacha20poly1305.NonceSizeX:]
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.buf = s.aad(sc.buf[:0], name)
	plain, err := s.aead.Open(nil, nonce, sealed, sc.buf)
	if err != nil { // the length check above leaves room for the expiry in what opens
		return nil, time.Time{}, ErrOpen
	}
	expiry = time.UnixMilli(int64(binary.BigEndian.Uint64(plain)))
	return plain[expirySize:], expiry, nil
}

// aad appends an entry's associated data to b: the format, the team domain and the token's
// name.
func (s *Sealer) aad(b []byte, name Name) []byte {
	b = append(b, aadLabel...)
	b = append(b, 0)
	b = append(b, s.team...)
	b = append(b, 0)
	return append(b, name[:]...)
}
