package devproxy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"

	"github.com/cfaccess/cfaccess/core/accesstest"
)

// Identity is who the proxy signs tokens for. Signing out keeps the rest, so that signing
// in again, as an application's login redirect does, brings back the same caller.
type Identity struct {
	Email        string         `json:"email,omitempty"`
	Groups       []string       `json:"groups,omitempty"`
	IdP          accesstest.IdP `json:"idp,omitempty"`
	ServiceToken string         `json:"service_token,omitempty"` // a client ID, "<hex>.access"
	Service      bool           `json:"service,omitempty"`       // the caller is ServiceToken, not the user
	SignedOut    bool           `json:"signed_out,omitempty"`    // requests go upstream with no token
}

// Bounds on what an identity may hold: it travels in a cookie.
const (
	maxGroups      = 50
	maxGroupLength = 200
	maxCookieSize  = 3000
)

// Validate checks id as the form and the flags give it: an e-mail address for a user, a
// client ID ending in ".access" for a service token, a known identity provider.
func (id Identity) Validate() error {
	if id.Email != "" || !id.Service {
		if err := validEmail(id.Email); err != nil {
			return err
		}
	}
	if id.ServiceToken != "" || id.Service {
		if err := validClientID(id.ServiceToken); err != nil {
			return err
		}
	}
	if _, err := ParseIdP(string(id.IdP)); err != nil {
		return err
	}
	return validGroups(id.Groups)
}

func validGroups(groups []string) error {
	if len(groups) > maxGroups {
		return fmt.Errorf("%d groups: at most %d", len(groups), maxGroups)
	}
	for _, g := range groups {
		if g == "" || len(g) > maxGroupLength || strings.IndexFunc(g, unicode.IsControl) >= 0 || strings.Contains(g, ",") {
			return fmt.Errorf("group %q: a group is 1 to %d printable characters, and no comma", g, maxGroupLength)
		}
	}
	return nil
}

// String says who id is, for people.
func (id Identity) String() string {
	switch {
	case id.SignedOut:
		return "signed out"
	case id.Service:
		return "service token " + id.ServiceToken
	}
	s := id.Email
	var details []string
	if len(id.Groups) > 0 {
		details = append(details, "groups "+strings.Join(id.Groups, ", "))
	} else {
		details = append(details, "no groups")
	}
	details = append(details, IdPName(id.idp()))
	return s + " (" + strings.Join(details, "; ") + ")"
}

func (id Identity) idp() accesstest.IdP {
	if id.IdP == "" {
		return accesstest.GoogleWorkspace
	}
	return id.IdP
}

func validEmail(s string) error {
	if s == "" {
		return errors.New("an e-mail address is needed for a user")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>") {
		return fmt.Errorf("%q is not an e-mail address, such as ann@example.com", s)
	}
	return nil
}

func validClientID(s string) error {
	id, ok := strings.CutSuffix(s, ".access")
	if !ok || id == "" || len(s) > 100 || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_')
	}) >= 0 {
		return fmt.Errorf("%q is not a service token's client ID, which is <letters and digits>.access", s)
	}
	return nil
}

// idpNames are people's names for the identity providers accesstest knows, and the
// spellings -idp accepts besides Access's own idp.type.
var idpNames = []struct {
	idp     accesstest.IdP
	name    string
	aliases []string
}{
	{accesstest.GoogleWorkspace, "Google Workspace", []string{"google", "googleworkspace", "google-workspace"}},
	{accesstest.OneTimePIN, "one-time PIN", []string{"otp", "pin", "one-time-pin"}},
	{accesstest.Okta, "Okta", nil},
	{accesstest.EntraID, "Microsoft Entra ID", []string{"entra", "entraid", "azure", "azuread"}},
	{accesstest.GitHub, "GitHub", nil},
	{accesstest.SAML, "SAML", nil},
	{accesstest.OIDC, "OpenID Connect", nil},
}

// ParseIdP reads an identity provider: Access's idp.type ("google-apps", "azureAD", …) or
// a plain name ("google", "entra", "otp"); "" is GoogleWorkspace.
func ParseIdP(s string) (accesstest.IdP, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return accesstest.GoogleWorkspace, nil
	}
	for _, n := range idpNames {
		if strings.EqualFold(s, string(n.idp)) || slices.ContainsFunc(n.aliases, func(a string) bool { return strings.EqualFold(a, s) }) {
			return n.idp, nil
		}
	}
	var known []string
	for _, n := range idpNames {
		known = append(known, string(n.idp))
	}
	return "", fmt.Errorf("unknown identity provider %q: one of %s", s, strings.Join(known, ", "))
}

// IdPName is idp's name for people.
func IdPName(idp accesstest.IdP) string {
	for _, n := range idpNames {
		if n.idp == idp {
			return n.name
		}
	}
	return string(idp)
}

// ParseGroups reads a comma-separated list of groups, dropping blanks.
func ParseGroups(s string) []string {
	var out []string
	for g := range strings.SplitSeq(s, ",") {
		if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// encode writes id as a cookie value.
func (id Identity) encode() string {
	b, _ := json.Marshal(id) // strings and bools: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeIdentity reads a cookie value that encode wrote; anything else is an error.
func decodeIdentity(v string) (Identity, error) {
	var id Identity
	if len(v) > maxCookieSize {
		return id, errors.New("too large")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return id, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&id); err != nil {
		return Identity{}, err
	}
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}
