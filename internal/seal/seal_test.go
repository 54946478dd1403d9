package seal_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/seal"
)

const team = "https://myteam.cloudflareaccess.com"

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, seal.MinKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealer(t testing.TB, team string, key []byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(team, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, team, newKey(t))
	until := time.UnixMilli(1_700_000_123_456)
	for _, doc := range [][]byte{nil, {}, []byte(`{"email":"ann@example.com","groups":["admins"]}`), bytes.Repeat([]byte{0xff}, 100_000)} {
		name := s.Name("the token")
		entry, err := s.Seal(doc, name, until)
		if err != nil {
			t.Fatal(err)
		}
		if len(entry) != len(doc)+seal.Overhead {
			t.Errorf("entry of %d bytes for a document of %d, want %d more", len(entry), len(doc), seal.Overhead)
		}
		if len(doc) > 8 && bytes.Contains(entry, doc[:8]) {
			t.Error("the document shows through the entry")
		}
		got, expiry, err := s.Open(entry, name)
		if err != nil || !bytes.Equal(got, doc) || !expiry.Equal(until) {
			t.Fatalf("Open = %q, %v, %v", got, expiry, err)
		}
	}
	// Expiry before 1970 and far ahead round-trip too, to the millisecond.
	name := s.Name("t")
	for _, until := range []time.Time{time.UnixMilli(-5), time.UnixMilli(1 << 50), time.Unix(1_700_000_000, 999_999_999)} {
		entry, err := s.Seal([]byte("d"), name, until)
		if err != nil {
			t.Fatal(err)
		}
		if _, expiry, err := s.Open(entry, name); err != nil || !expiry.Equal(time.UnixMilli(until.UnixMilli())) {
			t.Errorf("expiry %v, want %v: %v", expiry, until, err)
		}
	}
}

// TestSealIsRandomized: one document sealed twice makes two unrelated entries, both of which
// open.
func TestSealIsRandomized(t *testing.T) {
	s := newSealer(t, team, newKey(t))
	name := s.Name("tok")
	a, err1 := s.Seal([]byte("doc"), name, time.Now())
	b, err2 := s.Seal([]byte("doc"), name, time.Now())
	if err1 != nil || err2 != nil || bytes.Equal(a, b) || bytes.Equal(a[1:33], b[1:33]) {
		t.Fatalf("two seals: %x, %x", a, b)
	}
}

// TestOpenRefuses: an entry opens only for the token, team and key it was sealed for, intact
// and in this format.
func TestOpenRefuses(t *testing.T) {
	key := newKey(t)
	s := newSealer(t, team, key)
	name := s.Name("token-1")
	entry, err := s.Seal([]byte(`{"groups":["admins"]}`), name, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherKey := newKey(t)
	otherTeam := newSealer(t, "https://other.cloudflareaccess.com", key)
	for _, tc := range []struct {
		name  string
		s     *seal.Sealer
		entry []byte
		as    seal.Name
		want  error // nil: any error
		text  string
	}{
		{"another token's name", s, entry, s.Name("token-2"), seal.ErrOpen, ""},
		{"another team", otherTeam, entry, otherTeam.Name("token-1"), seal.ErrOpen, ""},
		{"another team, under this team's name", otherTeam, entry, name, seal.ErrOpen, ""},
		{"another key", newSealer(t, team, otherKey), entry, name, seal.ErrOpen, ""},
		{"no name", s, entry, seal.Name{}, seal.ErrOpen, ""},
		{"truncated", s, entry[:len(entry)-1], name, seal.ErrOpen, ""},
		{"extended", s, append(bytes.Clone(entry), 0), name, seal.ErrOpen, ""},
		{"shorter than any entry", s, entry[:seal.Overhead-1], name, nil, "shorter than any sealed entry"},
		{"empty", s, nil, name, nil, "shorter than any sealed entry"},
		{"another version", s, append([]byte{1}, entry[1:]...), name, nil, "format 1"},
		{"version 0", s, append([]byte{0}, entry[1:]...), name, nil, "format 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, expiry, err := tc.s.Open(tc.entry, tc.as)
			if err == nil || doc != nil || !expiry.IsZero() {
				t.Fatalf("Open = %q, %v, %v", doc, expiry, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %v, want it to say %q", err, tc.text)
			}
		})
	}
	// Every single flipped bit, in any part of the entry, is refused.
	for i := range entry {
		for bit := range 8 {
			flipped := bytes.Clone(entry)
			flipped[i] ^= 1 << bit
			if doc, _, err := s.Open(flipped, name); err == nil {
				t.Fatalf("byte %d bit %d flipped: opened as %q", i, bit, doc)
			}
		}
	}
	if _, _, err := s.Open(entry, name); err != nil {
		t.Fatalf("the intact entry: %v", err)
	}
}

func TestName(t *testing.T) {
	key := newKey(t)
	s := newSealer(t, team, key)
	n := s.Name("token")
	if n != s.Name("token") || n != newSealer(t, team, key).Name("token") || n == (seal.Name{}) {
		t.Fatalf("Name is not a stable 32-byte hash: %x", n)
	}
	for what, other := range map[string]seal.Name{
		"another token": s.Name("token2"),
		"another team":  newSealer(t, team+".", key).Name("token"),
		"another key":   newSealer(t, team, newKey(t)).Name("token"),
	} {
		if n == other {
			t.Errorf("%s: same name", what)
		}
	}
	if bytes.Contains(n[:], []byte("token")) {
		t.Error("the name shows the token")
	}
}

func TestNewRefusesShortKeys(t *testing.T) {
	for _, n := range []int{0, 1, seal.MinKeySize - 1} {
		if s, err := seal.New(team, make([]byte, n)); err == nil || s != nil {
			t.Errorf("a key of %d bytes: %v", n, err)
		}
	}
	if _, err := seal.New(team, make([]byte, 64)); err != nil {
		t.Errorf("a key of 64 bytes: %v", err)
	}
}
