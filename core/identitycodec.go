package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"
)

// An identity store entry holds the Identity that a get-identity answer decoded to, and when
// Access gave that answer, in a compact binary form: an instance that reads another's entry
// rebuilds the Identity with four allocations, where decoding the JSON document again costs
// some 250 and 25 µs. The form is read only after the entry's seal opened, so only an
// instance holding the fleet's key can have written it; it is still read with every bound
// checked, and anything that does not read whole is an error.
//
//	fetched  8 bytes, Unix milliseconds, big endian
//	Raw      the document as Access sent it: a uvarint length and its bytes
//	strings  ID, Name, Email, IdP.ID, IdP.Type, Geo.Country, UserUUID, AccountID, IP,
//	         DeviceID, ServiceTokenID: each a uvarint length and its bytes
//	IssuedAt varint Unix seconds (0: none)
//	Version  varint
//	flags    1 byte: IsWarp, IsGateway, ServiceTokenStatus
//	AMR      uvarint count, then strings
//	Groups   uvarint count, then ID, Name, Email of each
//	raw      Custom, DevicePosture, DeviceSessions, OIDCFields, SAMLAttributes, MTLSAuth: each
//	         a uvarint length (0: absent) and, when not 0, its uvarint offset in Raw, where
//	         encoding/json found it verbatim

var errBadEntry = errors.New("the entry's identity does not read")

// encodeIdentity writes id, fetched at fetched, as an entry's document.
func encodeIdentity(id *Identity, fetched time.Time) []byte {
	b := make([]byte, 8, 128+len(id.Raw)+64*len(id.Groups))
	binary.BigEndian.PutUint64(b, uint64(fetched.UnixMilli()))
	b = binary.AppendUvarint(b, uint64(len(id.Raw)))
	b = append(b, id.Raw...)
	for _, s := range id.strings() {
		b = appendString(b, *s)
	}
	var iat int64
	if !id.IssuedAt.IsZero() {
		iat = id.IssuedAt.Unix()
	}
	b = binary.AppendVarint(b, iat)
	b = binary.AppendVarint(b, int64(id.Version))
	var flags byte
	for i, f := range []bool{id.IsWarp, id.IsGateway, id.ServiceTokenStatus} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(id.AMR)))
	for _, m := range id.AMR {
		b = appendString(b, m)
	}
	b = binary.AppendUvarint(b, uint64(len(id.Groups)))
	for _, g := range id.Groups {
		b = appendString(appendString(appendString(b, g.ID), g.Name), g.Email)
	}
	for _, r := range id.raws() {
		off := bytes.Index(id.Raw, *r) // any place it stands holds the same bytes
		if len(*r) == 0 || off < 0 {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(binary.AppendUvarint(b, uint64(len(*r))), uint64(off))
	}
	return b
}

// decodeIdentityEntry reads what encodeIdentity wrote. Its strings share one copy of b,
// and its raw JSON fields share b itself, which the caller must not change afterwards.
func decodeIdentityEntry(b []byte) (*Identity, time.Time, error) {
	if len(b) < 8 {
		return nil, time.Time{}, errBadEntry
	}
	r := entryReader{b: b, s: string(b), pos: 8}
	fetched := time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
	id := &Identity{Raw: r.bytes()}
	for _, s := range id.strings() {
		*s = r.str()
	}
	if iat := r.varint(); iat != 0 {
		id.IssuedAt = time.Unix(iat, 0)
	}
	id.Version = int(r.varint())
	flags := r.byte()
	if flags > 7 {
		return nil, time.Time{}, errBadEntry
	}
	id.IsWarp, id.IsGateway, id.ServiceTokenStatus = flags&1 != 0, flags&2 != 0, flags&4 != 0
	if n := r.count(1); n > 0 {
		id.AMR = make([]string, n)
		for i := range id.AMR {
			id.AMR[i] = r.str()
		}
	}
	if n := r.count(3); n > 0 {
		id.Groups = make([]Group, n)
		for i := range id.Groups {
			id.Groups[i] = Group{ID: r.str(), Name: r.str(), Email: r.str()}
		}
	}
	for _, raw := range id.raws() {
		if n := r.uvarint(); n > 0 {
			off := r.uvarint()
			if r.bad || off > uint64(len(id.Raw)) || n > uint64(len(id.Raw))-off {
				return nil, time.Time{}, errBadEntry
			}
			*raw = id.Raw[off : off+n : off+n]
			if bytes.Index(id.Raw, *raw) != int(off) { // one entry, one spelling, as encodeIdentity writes it
				return nil, time.Time{}, errBadEntry
			}
		}
	}
	if r.bad || r.pos != len(b) {
		return nil, time.Time{}, errBadEntry
	}
	return id, fetched, nil
}

// strings are the string fields of id, in the entry's order.
func (id *Identity) strings() [11]*string {
	return [...]*string{&id.ID, &id.Name, &id.Email, &id.IdP.ID, &id.IdP.Type, &id.Geo.Country,
		&id.UserUUID, &id.AccountID, &id.IP, &id.DeviceID, &id.ServiceTokenID}
}

// raws are the raw JSON fields of id that are parts of its document, in the entry's order.
func (id *Identity) raws() [6]*[]byte {
	return [...]*[]byte{(*[]byte)(&id.Custom), (*[]byte)(&id.DevicePosture), (*[]byte)(&id.DeviceSessions),
		(*[]byte)(&id.OIDCFields), (*[]byte)(&id.SAMLAttributes), (*[]byte)(&id.MTLSAuth)}
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// entryReader reads an entry; a read past its end, or a malformed number, makes it bad and
// every later read empty.
type entryReader struct {
	b   []byte
	s   string // b as a string: strings are cut from it without copying each
	pos int
	bad bool
}

// uvarint and varint read a number in its shortest encoding only, as encodeIdentity writes
// it: one entry has one spelling.
func (r *entryReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[min(r.pos, len(r.b)):])
	return shortest(r, v, n)
}

func (r *entryReader) varint() int64 {
	v, n := binary.Varint(r.b[min(r.pos, len(r.b)):])
	return shortest(r, v, n)
}

// shortest moves r past a number v that binary's reader read from n bytes (none when it
// failed), and returns it; unless those bytes are v's shortest encoding, it makes r bad and
// returns 0. A longer encoding ends in a zero byte, which the shortest one does only for 0,
// in one byte.
func shortest[T uint64 | int64](r *entryReader, v T, n int) T {
	if n <= 0 || (n > 1 && r.b[r.pos+n-1] == 0) {
		r.bad = true
		return 0
	}
	r.pos += n
	return v
}

func (r *entryReader) byte() byte {
	if r.bad || r.pos >= len(r.b) {
		r.bad = true
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

// span returns where the next length-prefixed value starts and ends.
func (r *entryReader) span() (int, int) {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)-r.pos) {
		r.bad = true
		return 0, 0
	}
	start := r.pos
	r.pos += int(n)
	return start, r.pos
}

func (r *entryReader) str() string {
	i, j := r.span()
	return r.s[i:j]
}

func (r *entryReader) bytes() []byte {
	i, j := r.span()
	if i == j {
		return nil
	}
	return r.b[i:j:j]
}

// count reads the number of items of a list whose items take at least size bytes each, so
// that garbage cannot make the reader allocate more than the entry's length.
func (r *entryReader) count(size int) int {
	n := r.uvarint()
	if r.bad || n > uint64((len(r.b)-r.pos)/size) {
		r.bad = true
		return 0
	}
	return int(n)
}
