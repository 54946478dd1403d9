package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

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

var errNotObject = errors.New("not a JSON object")

// DecodeClaims reads the claims of a payload whose signature has verified. Members are
// matched by their exact names; one of the wrong type is an error. aud is a string or an
// array of strings, as golang-jwt's ClaimStrings reads it (null is no element of it).
func DecodeClaims(payload []byte) (*Claims, error) {
	m, err := members(payload)
	if err != nil {
		return nil, fail(Malformed, "the token payload is malformed", err)
	}
	c := &Claims{Custom: m["custom"]}
	if string(c.Custom) == "null" {
		c.Custom = nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"iss", &c.Iss}, {"sub", &c.Sub}, {"email", &c.Email}, {"type", &c.Type},
		{"identity_nonce", &c.IdentityNonce}, {"country", &c.Country}, {"common_name", &c.CommonName},
	} {
		if *f.dst, err = member[string](m, f.name); err != nil {
			return nil, claimError(f.name, err)
		}
	}
	if raw, ok := m["aud"]; ok {
		var aud jwt.ClaimStrings
		if err := json.Unmarshal(raw, &aud); err != nil {
			return nil, claimError("aud", err)
		}
		c.Aud = aud
	}
	for _, f := range []struct {
		name string
		dst  **jwt.NumericDate
	}{{"exp", &c.Exp}, {"nbf", &c.Nbf}, {"iat", &c.Iat}} {
		if *f.dst, err = numericDate(m, f.name); err != nil {
			return nil, claimError(f.name, err)
		}
	}
	return c, nil
}

func claimError(name string, err error) *Error {
	return fail(Malformed, "the token payload is malformed", fmt.Errorf("%s: %w", name, err))
}

// numericDate reads a NumericDate the way golang-jwt does: seconds, fractions allowed,
// rounded down to the second (its expression, so that dates before 1970 agree too); nil
// when absent or null.
func numericDate(m map[string]json.RawMessage, name string) (*jwt.NumericDate, error) {
	v, err := member[*float64](m, name)
	if err != nil || v == nil {
		return nil, err
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
