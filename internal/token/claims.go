package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a verified payload that verification and the public Claims need.
// It implements jwt.Claims, so that the claim rules are golang-jwt's Validator.
type Claims struct {
	Iss, Sub      string
	Aud           []string
	Exp, Nbf, Iat *jwt.NumericDate // nil when absent
	Email, Type   string
	IdentityNonce string
	Country       string
	CommonName    string
	Custom        json.RawMessage
}

// maxNumericDate bounds exp, nbf and iat (in seconds), far beyond any real token, so that a
// huge number cannot wrap around when it becomes a time.
const maxNumericDate = 1e12

// payload is the JSON shape of the claims that DecodeClaims reads.
type payload struct {
	Iss           string         `json:"iss"`
	Sub           string         `json:"sub"`
	Aud           audience       `json:"aud"`
	Exp           *float64       `json:"exp"`
	Nbf           *float64       `json:"nbf"`
	Iat           *float64       `json:"iat"`
	Email         string         `json:"email"`
	Type          string         `json:"type"`
	IdentityNonce string         `json:"identity_nonce"`
	Country       string         `json:"country"`
	CommonName    string         `json:"common_name"`
	Custom        jsontext.Value `json:"custom"`
}

// audience is aud as golang-jwt's ClaimStrings reads it: a string, an array of strings
// (null is no element of it), or null. ClaimStrings itself decodes through encoding/json
// into an interface, which was half of what decoding a payload cost.
type audience []string

var errAudience = errors.New("not a string or an array of strings")

func (a *audience) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	switch d.PeekKind() {
	case 'n':
		*a = nil
		return d.SkipValue()
	case '"':
		t, err := d.ReadToken()
		*a = audience{t.String()}
		return err
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		*a = audience{}
		for d.PeekKind() == '"' {
			t, err := d.ReadToken()
			if err != nil {
				return err
			}
			*a = append(*a, t.String())
		}
		if d.PeekKind() != ']' {
			return errAudience
		}
		_, err := d.ReadToken()
		return err
	}
	return errAudience
}

// DecodeClaims reads the claims of a payload whose signature has verified (see decodeObject
// for the JSON rules). A claim of the wrong type is an error.
func DecodeClaims(b []byte) (*Claims, error) {
	var p *payload
	if err := decodeObject(b, &p); err != nil {
		return nil, claimError(err)
	}
	c := &Claims{
		Iss: p.Iss, Sub: p.Sub, Aud: p.Aud, Email: p.Email, Type: p.Type,
		IdentityNonce: p.IdentityNonce, Country: p.Country, CommonName: p.CommonName,
	}
	if string(p.Custom) != "null" {
		c.Custom = json.RawMessage(p.Custom)
	}
	for _, d := range []struct {
		name string
		src  *float64
		dst  **jwt.NumericDate
	}{{"exp", p.Exp, &c.Exp}, {"nbf", p.Nbf, &c.Nbf}, {"iat", p.Iat, &c.Iat}} {
		var err error
		if *d.dst, err = numericDate(d.src); err != nil {
			return nil, claimError(fmt.Errorf("%s: %w", d.name, err))
		}
	}
	return c, nil
}

// claimError is a Malformed error that begins with the name of the claim at fault, if one is.
func claimError(err error) *Error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		for name := range se.JSONPointer.Tokens() { // the first: the claim, not a place in it
			err = fmt.Errorf("%s: %w", name, err)
			break
		}
	}
	return fail(Malformed, "the token payload is malformed", err)
}

// numericDate reads a NumericDate the way golang-jwt does: seconds, fractions allowed,
// rounded down to the second (its expression, so that dates before 1970 agree too); nil
// when absent or null.
func numericDate(v *float64) (*jwt.NumericDate, error) {
	if v == nil {
		return nil, nil
	}
	if *v > maxNumericDate || *v < -maxNumericDate {
		return nil, errors.New("out of range")
	}
	secs, frac := math.Modf(*v)
	return jwt.NewNumericDate(time.Unix(int64(secs), int64(frac*1e9))), nil
}

// Time returns d as a time, zero for nil.
func Time(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf, nil }
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *Claims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *Claims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Aud, nil }

// Rules are what a token's claims must satisfy.
type Rules struct {
	Issuer    string        // iss, exactly
	Audiences []string      // aud must name one
	Leeway    time.Duration // on exp, nbf and iat
	Now       func() time.Time
}

// Validator checks claims against Rules: exp required, nbf and iat when present, with the
// leeway; iss exactly; aud intersecting the audiences; type, when present, "app".
type Validator struct{ v *jwt.Validator }

// NewValidator returns the validator of r.
func NewValidator(r Rules) *Validator {
	return &Validator{jwt.NewValidator(
		jwt.WithLeeway(r.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(r.Issuer),
		jwt.WithAudience(r.Audiences...),
		jwt.WithTimeFunc(r.Now),
	)}
}

// Validate returns nil or an *Error. The checks come in the order of how much they tell: a
// token for another application is reported as such even if also expired.
func (v *Validator) Validate(c *Claims) error {
	if err := v.v.Validate(c); err != nil {
		for _, k := range []struct {
			target  error
			problem Problem
			msg     string
		}{
			{jwt.ErrTokenRequiredClaimMissing, MissingClaim, "the token lacks a required claim"},
			{jwt.ErrTokenInvalidIssuer, Issuer, "the token was issued by another team domain"},
			{jwt.ErrTokenInvalidAudience, Audience, "the token is for another application"},
			{jwt.ErrTokenExpired, Expired, "the token has expired"},
			{jwt.ErrTokenNotValidYet, NotYetValid, "the token is not valid yet"},
			{jwt.ErrTokenUsedBeforeIssued, IssuedInFuture, "the token is issued in the future"},
		} {
			if errors.Is(err, k.target) {
				return fail(k.problem, k.msg, err)
			}
		}
		return fail(Malformed, "the token claims are invalid", err)
	}
	if c.Type != "" && c.Type != "app" {
		// An organization token (type "org") is Access's global session, not a token of
		// this application.
		return fail(Type, "the token is not an application token", nil)
	}
	return nil
}
