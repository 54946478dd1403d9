package core

import (
	"encoding/json"
	"time"

	"github.com/cfaccess/cfaccess/internal/token"
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

	// Groups are read from the custom claim that Config.Groups names (GroupsClaim), when
	// the token carries it; nil otherwise.
	Groups []Group

	// Raw is the whole verified payload, as signed. Any claim without a field above is here.
	Raw json.RawMessage

	groupsInToken bool // the custom claim that GroupsClaim names is present
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

// claims makes the public Claims of a verified payload.
func (v *Verifier) claims(tc *token.Claims, payload []byte) *Claims {
	c := &Claims{
		Issuer:        tc.Iss,
		Subject:       tc.Sub,
		Audience:      tc.Aud,
		ExpiresAt:     token.Time(tc.Exp),
		NotBefore:     token.Time(tc.Nbf),
		IssuedAt:      token.Time(tc.Iat),
		Email:         tc.Email,
		Type:          tc.Type,
		IdentityNonce: tc.IdentityNonce,
		Country:       tc.Country,
		CommonName:    tc.CommonName,
		Custom:        tc.Custom,
		Raw:           payload,
	}
	if v.cfg.groups.kind == sourceClaim {
		c.Groups, c.groupsInToken = groupsFromClaim(c.Custom, v.cfg.groups.name)
	}
	return c
}
