package core

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// codecDocument is a get-identity answer with every field the entry keeps set, as Access
// spells them, and fields it does not keep: an Entra ID user on a WARP device with a posture
// check, behind Gateway, through mTLS.
const codecDocument = `{"id":"P51Tuu01fWHMBjIBvrCK1lK-eUDWs2aQMv03WDqT5oY","name":"Ann Smith",` +
	`"email":"ann.smith@example.com","amr":["pwd","mfa"],"oidc_fields":{"principalName":"ann.smith@example.com"},` +
	`"saml_attributes":{"groups":["staff","admins"],"department":"Engineering"},` +
	`"groups":[{"id":"1a2b3c4d-0000-4000-8000-000000000001","name":"staff","email":"staff@example.com"},` +
	`{"id":"1a2b3c4d-0000-4000-8000-000000000002","name":"admins"},"on-call",` +
	`{"email":"eng@example.com"}],` +
	`"idp":{"id":"b3c7a1d2-5e6f-4a8b-9c0d-1e2f3a4b5c6d","type":"azureAD"},"geo":{"country":"PT"},` +
	`"user_uuid":"7335d417-61da-459d-899c-0a01c76a0001","account_id":"121287a0c6e6260ec930655e6b39a3a8",` +
	`"iat":1700000000,"ip":"2001:db8::7","auth_status":"NONE","common_name":"",` +
	`"service_token_id":"5f2a…","service_token_status":true,"is_warp":true,"is_gateway":true,` +
	`"device_id":"9d4e1c7a-2222-4333-8444-555566667777","gateway_account_id":"gw-1","version":2,` +
	`"device_sessions":{"9d4e1c7a-2222-4333-8444-555566667777":{"last_authenticated":1700000000}},` +
	`"devicePosture":{"f7b5c7f4-1111-4222-8333-444455556666":{"id":"f7b5c7f4-1111-4222-8333-444455556666",` +
	`"schedule":"5m","timestamp":"2024-01-01T00:00:00.000Z","description":"disk encryption","type":"disk_encryption",` +
	`"check":{"drives":["C"]},"success":true,"rule_name":"Encrypted disk","input":{"requireAll":true}}},` +
	`"mtls_auth":{"cert_issuer_dn":"CN=Example CA","cert_presented":true,"cert_revoked":false},` +
	`"custom":{"department":"Engineering","employee_id":"E12345"}}`

// codecFetched is when the entries of these tests were fetched: a time with more precision
// than the entry keeps.
var codecFetched = time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)

// fullIdentity is an Identity with every field set, its raw fields parts of Raw.
func fullIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := decodeIdentity([]byte(codecDocument))
	if err != nil {
		t.Fatal(err)
	}
	// decodeIdentity reads the document; the rest of this test must not depend on it
	// having read every field, so the fields are checked here.
	v := reflect.ValueOf(*id)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("the test identity has no %s", v.Type().Field(i).Name)
		}
	}
	for _, g := range id.Groups {
		if g.ID != "" && g.Name != "" && g.Email != "" {
			return id
		}
	}
	t.Fatal("the test identity has no group with all three fields")
	return nil
}

// normalized is id with its empty lists and raw fields nil: the entry does not tell an empty
// list from an absent one, nor need it, as nothing reads the difference.
func normalized(id *Identity) Identity {
	n := *id
	if len(n.Groups) == 0 {
		n.Groups = nil
	}
	if len(n.AMR) == 0 {
		n.AMR = nil
	}
	if len(n.Raw) == 0 {
		n.Raw = nil
	}
	for _, r := range n.raws() {
		if len(*r) == 0 {
			*r = nil
		}
	}
	return n
}

// roundTrip encodes id and decodes it, failing t unless it comes back equal, fetched at
// fetched to the millisecond, with its raw fields parts of its Raw.
func roundTrip(t *testing.T, id *Identity, fetched time.Time) (*Identity, []byte) {
	t.Helper()
	entry := encodeIdentity(id, fetched)
	got, gotFetched, err := decodeIdentityEntry(entry)
	if err != nil {
		t.Fatalf("decodeIdentityEntry: %v", err)
	}
	if !gotFetched.Equal(fetched.Truncate(time.Millisecond)) {
		t.Errorf("fetched %v, want %v", gotFetched, fetched.Truncate(time.Millisecond))
	}
	if want := normalized(id); !reflect.DeepEqual(normalized(got), want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", normalized(got), want)
	}
	checkRawParts(t, got)
	return got, entry
}

// checkRawParts fails t unless every raw field of id is a part of its Raw, in place, whose
// capacity ends where it does: appending to one cannot write over Raw or another field.
func checkRawParts(t *testing.T, id *Identity) {
	t.Helper()
	if cap(id.Raw) != len(id.Raw) {
		t.Errorf("Raw has room for %d more bytes after it", cap(id.Raw)-len(id.Raw))
	}
	if len(id.Raw) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(id.Raw)))
	end := start + uintptr(len(id.Raw))
	for i, r := range id.raws() {
		if len(*r) == 0 {
			continue
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(*r)))
		if p < start || p+uintptr(len(*r)) > end {
			t.Errorf("raw field %d is a copy, not a part of Raw", i)
		}
		if cap(*r) != len(*r) {
			t.Errorf("raw field %d has room for %d more bytes after it", i, cap(*r)-len(*r))
		}
	}
}

func TestIdentityEntryRoundTrip(t *testing.T) {
	long := strings.Repeat("é", 200) // lengths of more than one varint byte
	for _, tc := range []struct {
		name string
		id   func(*Identity)
	}{
		{"every field", func(*Identity) {}},
		{"empty", func(id *Identity) { *id = Identity{} }},
		{"no iat", func(id *Identity) { id.IssuedAt = time.Time{} }},
		{"iat before 1970", func(id *Identity) { id.IssuedAt = time.Unix(-86400, 0) }},
		{"negative version", func(id *Identity) { id.Version = -3 }},
		{"large version", func(id *Identity) { id.Version = math.MaxInt32 }},
		{"no groups, no amr", func(id *Identity) { id.Groups, id.AMR = nil, nil }},
		{"groups of one field each", func(id *Identity) {
			id.Groups = []Group{{ID: "g1"}, {Name: "admins"}, {Email: "a@example.com"}}
		}},
		{"long strings", func(id *Identity) {
			id.Name, id.Email, id.AMR = long, long+"@example.com", []string{long, ""}
			id.Groups = append(id.Groups, Group{ID: long, Name: long, Email: long})
		}},
		{"no raw fields", func(id *Identity) {
			for _, r := range id.raws() {
				*r = nil
			}
		}},
		{"raw fields only", func(id *Identity) {
			*id = Identity{Raw: id.Raw, Custom: id.Custom, DevicePosture: id.DevicePosture, MTLSAuth: id.MTLSAuth}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fullIdentity(t)
			tc.id(id)
			roundTrip(t, id, codecFetched)
		})
	}
	// Each flag alone and together: a flag read from another's bit would grant a session the
	// WARP or Gateway standing of another.
	for flags := range 8 {
		id := fullIdentity(t)
		id.IsWarp, id.IsGateway, id.ServiceTokenStatus = flags&1 != 0, flags&2 != 0, flags&4 != 0
		got, _ := roundTrip(t, id, codecFetched)
		if got.IsWarp != id.IsWarp || got.IsGateway != id.IsGateway || got.ServiceTokenStatus != id.ServiceTokenStatus {
			t.Errorf("flags %03b came back as %v %v %v", flags, got.IsWarp, got.IsGateway, got.ServiceTokenStatus)
		}
	}
	// Times of any sign, to the millisecond.
	for _, fetched := range []time.Time{time.UnixMilli(0), time.UnixMilli(-1), time.UnixMilli(1), codecFetched, time.Unix(4102444800, 999999999)} {
		roundTrip(t, fullIdentity(t), fetched)
	}
}

// TestIdentityEntryFromDocument: an identity decoded from get-identity, written to an entry
// and read back, is the identity decoded from the document, whatever its provider's shape.
func TestIdentityEntryFromDocument(t *testing.T) {
	for _, doc := range []string{
		codecDocument,
		// one-time PIN: no name, groups or amr, version 0
		`{"id":"2a7e4f1c-0000-4000-8000-000000000001","email":"pin@example.com","idp":{"id":"i","type":"onetimepin"},` +
			`"geo":{"country":"US"},"user_uuid":"u","account_id":"a","iat":1700000000,"ip":"203.0.113.7","version":0,"is_warp":false}`,
		// groups as strings, empty lists, and a raw field whose bytes also stand earlier
		`{"groups":["admins","ops"],"amr":[],"oidc_fields":{"a":1},"custom":{"a":1},"device_sessions":{}}`,
		`{"groups":[],"devicePosture":null,"mtls_auth":"x","saml_attributes":[1,2]}`,
		` {"email":"spaced@example.com" , "custom" : { "k" : "v" } } `,
		`{}`,
	} {
		id, err := decodeIdentity([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := roundTrip(t, id, codecFetched)
		if string(got.Raw) != doc {
			t.Errorf("Raw = %s, want the document", got.Raw)
		}
	}
}

// TestIdentityEntryOwnsItsStrings: the strings of a decoded identity are copies, so that the
// buffer an entry was opened into may be reused without changing an identity in the cache.
func TestIdentityEntryOwnsItsStrings(t *testing.T) {
	entry := encodeIdentity(fullIdentity(t), codecFetched)
	want, _, err := decodeIdentityEntry(bytes.Clone(entry))
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := decodeIdentityEntry(entry)
	if err != nil {
		t.Fatal(err)
	}
	clear(entry)
	got := normalized(id)
	exp := normalized(want)
	// Raw and its parts share the entry, as documented.
	for _, n := range []*Identity{&got, &exp} {
		n.Raw = nil
		for _, r := range n.raws() {
			*r = nil
		}
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("clearing the entry changed the identity:\n got %+v\nwant %+v", got, exp)
	}
}

// TestIdentityEntryTruncated: an entry cut anywhere, or with anything after its end, is an
// error, never a panic nor a shorter identity.
func TestIdentityEntryTruncated(t *testing.T) {
	entry := encodeIdentity(fullIdentity(t), codecFetched)
	for n := range len(entry) {
		if id, _, err := decodeIdentityEntry(bytes.Clone(entry[:n])); err == nil {
			t.Fatalf("%d of %d bytes read as %+v", n, len(entry), id)
		}
	}
	for _, extra := range [][]byte{{0}, {1}, entry} {
		if _, _, err := decodeIdentityEntry(append(bytes.Clone(entry), extra...)); err == nil {
			t.Errorf("an entry followed by %d bytes read", len(extra))
		}
	}
	if _, _, err := decodeIdentityEntry(nil); err == nil {
		t.Error("nothing read")
	}
}

// TestIdentityEntryMalformed: lengths, counts and offsets that point past the entry, or
// overflow, are errors, and a count cannot make the reader allocate more than the entry holds.
func TestIdentityEntryMalformed(t *testing.T) {
	uv := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	// head is an entry up to its lists: fetched, an empty Raw, 11 empty strings, iat, version
	// and flags.
	head := func() []byte {
		b := make([]byte, 8)
		b = uv(b, 0)
		for range 11 {
			b = uv(b, 0)
		}
		b = binary.AppendVarint(b, 0)
		b = binary.AppendVarint(b, 0)
		return append(b, 0)
	}
	tail := func(b []byte) []byte { // no AMR, no groups, no raw fields
		b = uv(uv(b, 0), 0)
		for range 6 {
			b = uv(b, 0)
		}
		return b
	}
	if _, _, err := decodeIdentityEntry(tail(head())); err != nil {
		t.Fatalf("the well-formed entry of these cases does not read: %v", err)
	}
	withRaw := func(raw string) []byte { // an entry whose Raw is raw, up to its raw fields
		b := uv(make([]byte, 8), uint64(len(raw)))
		b = append(b, raw...)
		for range 11 {
			b = uv(b, 0)
		}
		b = append(binary.AppendVarint(binary.AppendVarint(b, 0), 0), 0)
		return uv(uv(b, 0), 0)
	}
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"Raw longer than the entry", uv(make([]byte, 8), 1000)},
		{"Raw of 2⁶⁴-1 bytes", uv(make([]byte, 8), math.MaxUint64)},
		{"a varint of 11 bytes", append(make([]byte, 8), bytes.Repeat([]byte{0xff}, 10)...)},
		{"a varint that does not end", append(make([]byte, 8), 0x80, 0x80)},
		{"a billion AMR", uv(head(), 1e9)},
		{"more AMR than bytes left", uv(uv(head(), 3), 0)},
		{"2⁶⁴-1 groups", uv(uv(head(), 0), math.MaxUint64)},
		{"more groups than bytes left", uv(uv(uv(uv(head(), 0), 2), 0), 0)},
		{"a raw field past Raw's end", append(uv(uv(withRaw(`{"a":1}`), 3), 5), 0, 0, 0, 0, 0)},
		{"a raw field at an offset past Raw", append(uv(uv(withRaw(`{"a":1}`), 1), 8), 0, 0, 0, 0, 0)},
		{"a raw field whose end overflows", append(uv(uv(withRaw(`{"a":1}`), math.MaxUint64), 2), 0, 0, 0, 0, 0)},
		{"a raw field without its offset", uv(withRaw(`{"a":1}`), 3)},
	} {
		if id, _, err := decodeIdentityEntry(tc.entry); err == nil {
			t.Errorf("%s: read as %+v", tc.name, id)
		}
	}
	// The largest raw field there is, at the last offset it may have, reads.
	ok := withRaw(`{"a":1}`)
	ok = uv(uv(ok, 7), 0)
	ok = uv(uv(ok, 1), 6)
	for range 4 {
		ok = uv(ok, 0)
	}
	id, _, err := decodeIdentityEntry(ok)
	if err != nil || string(id.Custom) != `{"a":1}` || string(id.DevicePosture) != `}` {
		t.Errorf("raw fields at Raw's bounds: %+v, %v", id, err)
	}
}

// TestIdentityEntryAllocs: reading an entry back costs a handful of allocations (the
// identity, one copy of the strings, the AMR and group lists), not one per field: it is on
// the path of every lookup another instance answered.
func TestIdentityEntryAllocs(t *testing.T) {
	entry := encodeIdentity(fullIdentity(t), codecFetched)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := decodeIdentityEntry(entry); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("decoding an entry allocates %v times, want at most 4", allocs)
	}
}

// FuzzIdentityEntry: an entry's bytes are read only after its seal opened, but are still read
// as untrusted: no input panics, and any input that reads holds an identity that writes and
// reads back unchanged, its raw fields parts of its Raw.
//
// The entry is not required to be the very bytes its identity encodes as: the reader accepts
// varints longer than they need be, flag bits it does not use, and a raw field at another
// place in Raw than the first that holds its bytes. None of it can come from an instance, as
// only one holding the fleet's key writes an entry that opens.
func FuzzIdentityEntry(f *testing.F) {
	full := fullIdentity(f)
	f.Add(encodeIdentity(full, codecFetched))
	f.Add(encodeIdentity(&Identity{}, time.UnixMilli(0)))
	f.Add(encodeIdentity(&Identity{Groups: []Group{{Name: "admins"}}, AMR: []string{"pwd"}, IsGateway: true}, codecFetched))
	for _, doc := range []string{`{"custom":{"a":1},"devicePosture":{"a":1}}`, `{"groups":["x"],"mtls_auth":{}}`} {
		id, err := decodeIdentity([]byte(doc))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeIdentity(id, codecFetched))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	f.Add(append(make([]byte, 8), bytes.Repeat([]byte{0xff}, 12)...))
	f.Fuzz(func(t *testing.T, entry []byte) {
		in := bytes.Clone(entry)
		id, fetched, err := decodeIdentityEntry(entry)
		if !bytes.Equal(in, entry) {
			t.Fatal("decoding changed the entry")
		}
		if err != nil {
			return
		}
		checkRawParts(t, id)
		again := encodeIdentity(id, fetched)
		if !bytes.Equal(again, entry) {
			t.Fatalf("%x reads, but is not how its identity is written: %x", entry, again)
		}
		back, fetchedBack, err := decodeIdentityEntry(bytes.Clone(again))
		if err != nil {
			t.Fatalf("%x read as %+v, whose entry %x does not read: %v", entry, id, again, err)
		}
		if !fetchedBack.Equal(fetched) || !reflect.DeepEqual(normalized(back), normalized(id)) {
			t.Fatalf("%x read as %+v fetched %v; written again and read, %+v fetched %v", entry, id, fetched, back, fetchedBack)
		}
		if third := encodeIdentity(back, fetchedBack); !bytes.Equal(third, again) {
			t.Fatalf("one identity encodes as %x and as %x", again, third)
		}
	})
}
