package core

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/seal"
)

type nopStore struct{}

func (nopStore) Get(context.Context, string) ([]byte, error)              { return nil, nil }
func (nopStore) Set(context.Context, string, []byte, time.Duration) error { return nil }

// sealerFor returns the sealer that a verifier of team with the fleet key key names and
// seals its store's entries with.
func sealerFor(t testing.TB, team string, key []byte) *seal.Sealer {
	t.Helper()
	s, err := Config{TeamDomain: team, Audiences: []string{"aud"},
		Identities: IdentityConfig{Shared: &SharedStore{Store: nopStore{}, Key: key}}}.settings()
	if err != nil {
		t.Fatal(err)
	}
	return s.store.sealer
}

var (
	fleetKey = bytes.Repeat([]byte{7}, MinStoreKeySize)
	// an entry's document: an identity, as the store keeps it
	entryDoc = encodeIdentity(&Identity{Email: "ann@example.com", Groups: []Group{{Name: "admins"}},
		Raw: []byte(`{"email":"ann@example.com","groups":["admins"]}`)}, time.UnixMilli(1_700_000_000_000))
)

// nonceEnd is where an entry's nonce ends: a version byte, then XChaCha20's 24 bytes.
const nonceEnd = 1 + 24

// TestEntryBindsTeamAndToken: an entry opens for its team and its token only, both bound as
// associated data, even where the two teams' names of a token were to coincide.
func TestEntryBindsTeamAndToken(t *testing.T) {
	a := sealerFor(t, "https://a.cloudflareaccess.com", fleetKey)
	b := sealerFor(t, "https://b.cloudflareaccess.com", fleetKey)
	other := sealerFor(t, "https://a.cloudflareaccess.com", bytes.Repeat([]byte{8}, MinStoreKeySize))
	until := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	name := a.Name("token-a")
	val, err := a.Seal(entryDoc, name, until)
	if err != nil {
		t.Fatal(err)
	}
	doc, expiry, err := a.Open(val, name)
	if err != nil || !bytes.Equal(doc, entryDoc) || !expiry.Equal(until) {
		t.Fatalf("open = %q, %v, %v", doc, expiry, err)
	}
	if _, _, err := b.Open(val, name); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("another team opened the entry: %v", err)
	}
	if _, _, err := other.Open(val, name); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("another key opened the entry: %v", err)
	}
	if _, _, err := a.Open(val, a.Name("token-b")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("another token's name opened the entry: %v", err)
	}
	if a.Name("token-a") == b.Name("token-a") || a.Name("token-a") == other.Name("token-a") {
		t.Error("two teams, or two keys, name one token's entry alike")
	}
	// Too short to hold an expiry and a tag: refused, not read past its end.
	for n := range seal.Overhead {
		if _, _, err := a.Open(val[:n], name); err == nil {
			t.Errorf("an entry of %d bytes opened", n)
		}
	}
	again, _ := a.Seal(entryDoc, name, until)
	if bytes.Equal(again[:nonceEnd], val[:nonceEnd]) || bytes.Equal(again, val) {
		t.Error("two seals of one document share a nonce")
	}
	if len(val) != len(entryDoc)+seal.Overhead {
		t.Errorf("an entry of %d bytes for a document of %d, want %d more", len(val), len(entryDoc), seal.Overhead)
	}
}

// FuzzIdentityStoreEntry: what a store returns is untrusted. No input panics, and none opens
// but an entry sealed for the token, holding what was sealed: a forged entry would be a group
// granted. (The fuzzing workers seal the seed anew, under another salt: the property cannot
// be "only the seed's bytes open".)
func FuzzIdentityStoreEntry(f *testing.F) {
	s := sealerFor(f, "https://a.cloudflareaccess.com", fleetKey)
	name := s.Name("token")
	until := time.Unix(2_000_000_000, 0)
	valid, err := s.Seal(entryDoc, name, until)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{})
	f.Add(valid[:1])
	f.Add(append(bytes.Clone(valid[:1]), make([]byte, seal.Overhead)...))
	f.Add(entryDoc)
	f.Fuzz(func(t *testing.T, val []byte) {
		doc, expiry, err := s.Open(val, name)
		if err == nil && (!bytes.Equal(doc, entryDoc) || !expiry.Equal(until)) {
			t.Fatalf("a forged entry opened: %q until %v", doc, expiry)
		}
	})
}

// BenchmarkIdentityStoreEntry: what naming, sealing and opening an entry cost, apart from
// the store's round trip, for a token of 900 bytes and a get-identity document of 1.5 KB.
func BenchmarkIdentityStoreEntry(b *testing.B) {
	s := sealerFor(b, "https://a.cloudflareaccess.com", fleetKey)
	doc := bytes.Repeat([]byte("x"), 1500)
	token := string(bytes.Repeat([]byte("t"), 900))
	name := s.Name(token)
	until := time.Now().Add(time.Hour)
	b.Run("name", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Name(token)
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Seal(doc, name, until); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		val, err := s.Seal(doc, name, until)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.Open(val, name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
