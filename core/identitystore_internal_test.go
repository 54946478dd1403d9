package core

import (
	"bytes"
	"context"
	"testing"
	"time"
)

type nopStore struct{}

func (nopStore) Get(context.Context, string) ([]byte, error)              { return nil, nil }
func (nopStore) Set(context.Context, string, []byte, time.Duration) error { return nil }

// sharedFor returns the store side of a verifier of team with the fleet key key.
func sharedFor(t testing.TB, team string, key []byte) *sharedIdentities {
	t.Helper()
	s, err := Config{TeamDomain: team, Audiences: []string{"aud"}, IdentityStore: nopStore{}, IdentityStoreKey: key}.settings()
	if err != nil {
		t.Fatal(err)
	}
	return &sharedIdentities{cfg: &s, st: s.store}
}

var (
	fleetKey = bytes.Repeat([]byte{7}, MinIdentityStoreKeySize)
	entryDoc = []byte(`{"email":"ann@example.com","groups":["admins"]}`)
)

// TestEntryBindsTeamAndToken: an entry opens for its team and its token only, both bound as
// associated data, even where the two teams' names of a token were to coincide.
func TestEntryBindsTeamAndToken(t *testing.T) {
	a := sharedFor(t, "https://a.cloudflareaccess.com", fleetKey)
	b := sharedFor(t, "https://b.cloudflareaccess.com", fleetKey)
	until := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	name := a.name("token-a")
	val, err := a.seal(entryDoc, name, until)
	if err != nil {
		t.Fatal(err)
	}
	doc, expiry, err := a.open(val, name)
	if err != nil || !bytes.Equal(doc, entryDoc) || !expiry.Equal(until) {
		t.Fatalf("open = %q, %v, %v", doc, expiry, err)
	}
	if _, _, err := b.open(val, name); err != errEntrySeal {
		t.Errorf("another team opened the entry: %v", err)
	}
	if _, _, err := a.open(val, a.name("token-b")); err != errEntrySeal {
		t.Errorf("another token's name opened the entry: %v", err)
	}
	if bytes.Equal(a.name("token-a"), b.name("token-a")) {
		t.Error("two teams name one token's entry alike")
	}
	// Sealed with the key, but too short to hold an expiry: refused, not read past its end.
	short := append([]byte{sealVersion}, make([]byte, saltSize)...)
	aead, nonce, err := a.entryCipher(short[1:])
	if err != nil {
		t.Fatal(err)
	}
	short = aead.Seal(short, nonce, []byte{1, 2, 3}, a.aad(name))
	if _, _, err := a.open(short, name); err == nil {
		t.Error("an entry without an expiry opened")
	}
	again, _ := a.seal(entryDoc, name, until)
	if bytes.Equal(again[:1+saltSize], val[:1+saltSize]) || bytes.Equal(again, val) {
		t.Error("two seals of one document share a salt")
	}
}

// FuzzIdentityStoreEntry: what a store returns is untrusted. No input panics, and none opens
// but an entry sealed for the token, holding what was sealed: a forged entry would be a group
// granted. (The fuzzing workers seal the seed anew, under another salt: the property cannot
// be "only the seed's bytes open".)
func FuzzIdentityStoreEntry(f *testing.F) {
	s := sharedFor(f, "https://a.cloudflareaccess.com", fleetKey)
	name := s.name("token")
	until := time.Unix(2_000_000_000, 0)
	valid, err := s.seal(entryDoc, name, until)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{})
	f.Add([]byte{sealVersion})
	f.Add(append([]byte{sealVersion}, make([]byte, sealOverhead)...))
	f.Add(entryDoc)
	f.Fuzz(func(t *testing.T, val []byte) {
		doc, expiry, err := s.open(val, name)
		if err == nil && (!bytes.Equal(doc, entryDoc) || !expiry.Equal(until)) {
			t.Fatalf("a forged entry opened: %q until %v", doc, expiry)
		}
	})
}

// BenchmarkIdentityStoreEntry: what naming, sealing and opening an entry cost, apart from
// the store's round trip, for a token of 900 bytes and a get-identity document of 1.5 KB.
func BenchmarkIdentityStoreEntry(b *testing.B) {
	s := sharedFor(b, "https://a.cloudflareaccess.com", fleetKey)
	doc := bytes.Repeat([]byte("x"), 1500)
	token := string(bytes.Repeat([]byte("t"), 900))
	name := s.name(token)
	until := time.Now().Add(time.Hour)
	b.Run("name", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.name(token)
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.seal(doc, name, until); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		val, err := s.seal(doc, name, until)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.open(val, name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
