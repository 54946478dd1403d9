// Package token reads Cloudflare Access tokens (compact JWS, RS256) the way an origin must:
// nothing of a token is trusted before its signature verifies, and what is read before that
// is bounded, so that a forgery costs at most one SHA-256 of the token and one RSA check
// however it is padded.
//
// Before the signature verifies, Parse reads the header (at most MaxHeaderSize bytes,
// encoded) and decodes the signature (at most MaxSignatureSize bytes); of the payload,
// nothing is read, except by IssuedAt, which the verifier calls only for a token whose kid
// the key set lacks, to choose between two refusals. After Verify, the payload is decoded
// with encoding/json/v2 (github.com/go-json-experiment/json, its copy outside the standard
// library): names matched exactly, a name given twice refused.
package token

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

var errNotObject = errors.New("not a JSON object")

// Bounds on what is read of a token before its signature verifies.
const (
	// MaxHeaderSize bounds the header segment, encoded: Access's is about 100 bytes
	// ({"alg":"RS256","kid":"<64 hex digits>","typ":"JWT"}); 1 KiB leaves room for any real
	// header and none for padding.
	MaxHeaderSize = 1024
	// MaxSignatureSize is the longest signature decoded: that of a 4096-bit RSA key.
	MaxSignatureSize = 512
)

// Problem is what is wrong with a token.
type Problem uint8

// The problems a token can have.
const (
	Malformed      Problem = iota + 1 // not three base64url segments of JSON, or a claim of the wrong type
	HeaderTooLarge                    // a header segment over MaxHeaderSize
	Algorithm                         // alg is not RS256
	Critical                          // the header lists critical extensions
	NoKeyID                           // no kid in the header
	Signature                         // the signature does not verify
	MissingClaim                      // exp, iss or aud is absent
	Issuer                            // iss is not the team domain
	Audience                          // aud names none of the audiences
	Expired                           // exp has passed, beyond the leeway
	NotYetValid                       // nbf is in the future, beyond the leeway
	IssuedInFuture                    // iat is in the future, beyond the leeway
	Type                              // type is present and not "app"
)

// Error is a token's problem, with a short message safe to show and its cause, if any.
type Error struct {
	Problem Problem
	Msg     string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func fail(p Problem, msg string, cause error) *Error { return &Error{Problem: p, Msg: msg, Err: cause} }

// b64 is the strict base64url of JWS: no padding, no stray bits, so one token has one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Parsed is a token split in its segments, its header read and its signature decoded:
// nothing of it is trusted yet. The zero Parsed is ready for Parse.
type Parsed struct {
	KID string // the header's kid: which key of the team's set signed it, if any did

	signed  string // header and payload segments, the input of the signature
	payload string // the payload segment, encoded
	sig     [MaxSignatureSize]byte
	sigLen  int
}

// Parse splits tok and reads its header and signature. The error is an *Error.
func (p *Parsed) Parse(tok string) error {
	h, pl, sig, ok := split(tok)
	if !ok {
		return fail(Malformed, "the token is not three base64url segments", nil)
	}
	if len(h) > MaxHeaderSize {
		return fail(HeaderTooLarge, "the token header is too large", nil)
	}
	hdr, err := decodeHeader(h)
	if err != nil {
		return fail(Malformed, "the token header is malformed", err)
	}
	switch {
	case hdr.alg != "RS256":
		return fail(Algorithm, "the token is not signed with RS256", nil)
	case hdr.crit:
		return fail(Critical, "the token header lists critical extensions", nil)
	case hdr.kid == "":
		return fail(NoKeyID, "the token header has no key ID", nil)
	}
	if len(sig) > b64.EncodedLen(MaxSignatureSize) {
		return fail(Malformed, "the token signature is too long", nil)
	}
	s, err := b64.AppendDecode(p.sig[:0], []byte(sig))
	if err != nil {
		return fail(Malformed, "the token signature is not base64url", err)
	}
	p.KID, p.signed, p.payload, p.sigLen = hdr.kid, tok[:len(h)+1+len(pl)], pl, len(s)
	return nil
}

// Verify checks the signature with pub and returns the payload, decoded but not read.
func (p *Parsed) Verify(pub *rsa.PublicKey) ([]byte, error) {
	digest := sha256.Sum256([]byte(p.signed))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.sig[:p.sigLen]); err != nil {
		return nil, fail(Signature, "the token signature is invalid", err)
	}
	payload, err := b64.DecodeString(p.payload)
	if err != nil {
		return nil, fail(Malformed, "the token payload is not base64url", err)
	}
	return payload, nil
}

// split cuts a compact JWS into its three segments, refusing any other number of dots.
// It also refuses CR and LF, the two bytes outside the base64url alphabet that Go's decoder
// skips (even in strict mode) instead of rejecting: the signature segment is not itself
// signed, so without this one valid token would have endless spellings, each verified and
// cached apart. The decoder rejects every other stray byte. (Two IndexByte scans, which are
// vectorised, rather than one ContainsAny, which walks byte by byte: 10 µs for a 16 KiB
// forgery, a third of an RSA check.)
func split(tok string) (header, payload, signature string, ok bool) {
	header, rest, ok1 := strings.Cut(tok, ".")
	payload, signature, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(signature, '.') >= 0 || hasCRLF(tok) {
		return "", "", "", false
	}
	return header, payload, signature, true
}

func hasCRLF(s string) bool {
	return strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\n') >= 0
}

type header struct {
	alg, kid string
	crit     bool
}

func decodeHeader(seg string) (header, error) {
	var buf [MaxHeaderSize * 3 / 4]byte
	b, err := b64.AppendDecode(buf[:0], []byte(seg))
	if err != nil {
		return header{}, err
	}
	var h *struct {
		Alg  string         `json:"alg"`
		Kid  string         `json:"kid"`
		Crit jsontext.Value `json:"crit"`
	}
	if err := decodeObject(b, &h); err != nil {
		return header{}, err
	}
	return header{alg: h.Alg, kid: h.Kid, crit: h.Crit != nil}, nil
}

// decodeObject reads the JSON object b into *v, a pointer to a struct pointer (so that JSON
// null, which leaves it nil, is refused). It is encoding/json/v2, whose defaults are those a
// token needs: names match exactly (JSON names are case-sensitive, where encoding/json's
// struct fields are not), a name given twice and bytes that are not UTF-8 are errors (so that
// the claims cannot differ from the signed payload that Claims.Raw holds, whoever reads it),
// and nothing may follow the object.
func decodeObject[T any](b []byte, v **T) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if *v == nil {
		return errNotObject
	}
	return nil
}
