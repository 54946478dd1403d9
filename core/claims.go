package core

import (
	"encoding/json"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the verified contents of an Access token. A Claims value handed out by a
// Verifier is shared by every request that carries the same token: treat it as read-only.
type Claims struct {
	Issuer    string    // iss: the team domain URL
	Subject   string    // sub: the user's ID; empty for a service token
	Audience  []string  // aud: the application AUD tag(s)
	ExpiresAt time.Time // exp
	NotBefore time.Time // nbf; zero when absent
	IssuedAt  time.Time // iat; zero when absent

	Email         string // the user's e-mail; empty for a service token
	Type          string // "app", or empty (service tokens may omit it): other types are refused
	IdentityNonce string // identity_nonce: the key of the user's identity at get-identity
	Country       string // the country the request came from, when Access recorded it
	CommonName    string // common_name: a service token's client ID ("<hex>.access")

	// Custom holds the "custom" claim verbatim: SAML attributes or OIDC claims that the
	// identity provider passes through, when configured in Access.
	Custom json.RawMessage

	// Groups are read from custom[Config.GroupsClaim] when that is set; nil otherwise.
	Groups []Group

	// Raw is the whole verified payload, as signed. Any claim without a field above is here.
	Raw json.RawMessage
}

// IsServiceToken reports whether the caller is a service token rather than a user: Access
// puts the client ID in common_name and leaves sub empty.
func (c *Claims) IsServiceToken() bool {
	return c != nil && c.Subject == "" && c.CommonName != ""
}

// MarshalJSON writes the claims with the token's own field names: the verified payload itself
// when there is one, otherwise the fields above. (A value receiver, so that a Claims held by
// value marshals the same way.)
func (c Claims) MarshalJSON() ([]byte, error) {
	if len(c.Raw) > 0 {
		return c.Raw, nil
	}
	return json.Marshal(struct {
		Iss           string          `json:"iss,omitempty"`
		Sub           string          `json:"sub"`
		Aud           []string        `json:"aud,omitempty"`
		Exp           int64           `json:"exp,omitempty"`
		Nbf           int64           `json:"nbf,omitempty"`
		Iat           int64           `json:"iat,omitempty"`
		Email         string          `json:"email,omitempty"`
		Type          string          `json:"type,omitempty"`
		IdentityNonce string          `json:"identity_nonce,omitempty"`
		Country       string          `json:"country,omitempty"`
		CommonName    string          `json:"common_name,omitempty"`
		Custom        json.RawMessage `json:"custom,omitempty"`
	}{c.Issuer, c.Subject, c.Audience, unix(c.ExpiresAt), unix(c.NotBefore), unix(c.IssuedAt),
		c.Email, c.Type, c.IdentityNonce, c.Country, c.CommonName, c.Custom})
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// tokenClaims is the payload as read for validation. It implements jwt.Claims so that the
// claim rules are golang-jwt's Validator, and stays private so that the public Claims carry
// no type of that library.
type tokenClaims struct {
	iss, sub      string
	aud           []string
	exp, nbf, iat *jwt.NumericDate // nil when absent
	email, typ    string
	identityNonce string
	country       string
	commonName    string
	custom        json.RawMessage
}

// maxNumericDate bounds exp, nbf and iat (in seconds), far beyond any real token, so that a
// huge number cannot wrap around when it becomes a time.
const maxNumericDate = 1e12

func (tc *tokenClaims) decode(payload []byte) error {
	r := jsonReader{data: payload}
	if err := r.open(); err != nil {
		return err
	}
	for {
		key, done, err := r.next()
		if err != nil || done {
			return err
		}
		switch string(key) {
		case "iss":
			tc.iss, err = r.str()
		case "sub":
			tc.sub, err = r.str()
		case "aud":
			tc.aud, err = r.strs()
		case "exp":
			tc.exp, err = numericDate(&r)
		case "nbf":
			tc.nbf, err = numericDate(&r)
		case "iat":
			tc.iat, err = numericDate(&r)
		case "email":
			tc.email, err = r.str()
		case "type":
			tc.typ, err = r.str()
		case "identity_nonce":
			tc.identityNonce, err = r.str()
		case "country":
			tc.country, err = r.str()
		case "common_name":
			tc.commonName, err = r.str()
		case "custom":
			tc.custom, err = r.raw()
		default:
			err = r.skip()
		}
		if err != nil {
			return err
		}
	}
}

// numericDate reads a NumericDate the way golang-jwt does: seconds, fractions allowed,
// rounded down to the second (its expression, so that dates before 1970 agree too).
func numericDate(r *jsonReader) (*jwt.NumericDate, error) {
	v, ok, err := r.num()
	if err != nil || !ok {
		return nil, err
	}
	if v > maxNumericDate || v < -maxNumericDate {
		return nil, errJSON
	}
	secs, frac := math.Modf(v)
	return jwt.NewNumericDate(time.Unix(int64(secs), int64(frac*1e9))), nil
}

func (tc *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return tc.exp, nil }
func (tc *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return tc.nbf, nil }
func (tc *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return tc.iat, nil }
func (tc *tokenClaims) GetIssuer() (string, error)                   { return tc.iss, nil }
func (tc *tokenClaims) GetSubject() (string, error)                  { return tc.sub, nil }
func (tc *tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return tc.aud, nil }

func (tc *tokenClaims) claims(raw []byte) *Claims {
	return &Claims{
		Issuer:        tc.iss,
		Subject:       tc.sub,
		Audience:      tc.aud,
		ExpiresAt:     numericTime(tc.exp),
		NotBefore:     numericTime(tc.nbf),
		IssuedAt:      numericTime(tc.iat),
		Email:         tc.email,
		Type:          tc.typ,
		IdentityNonce: tc.identityNonce,
		Country:       tc.country,
		CommonName:    tc.commonName,
		Custom:        tc.custom,
		Raw:           raw,
	}
}

func numericTime(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}
