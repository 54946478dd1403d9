package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cfaccess/cfaccess/internal/teamclient"
)

// Identity is what Access's get-identity endpoint reports about a user: the identity
// provider's view, with groups. Common fields are typed; the open-ended parts stay raw JSON,
// and Raw holds the whole document. Fields are spelled as Access spells them and compared
// case-sensitively. An Identity handed out by a Verifier is shared: treat it as read-only.
//
// What to expect: a one-time-PIN user has no Name, Groups or AMR, and Version 0; Entra ID
// reports groups as {id, name} with no e-mail; other providers report names only.
type Identity struct {
	// ID is the identity provider's subject for the user (an OIDC sub, a SAML NameID):
	// not the token's sub, which is UserUUID.
	ID                 string
	Name               string    // the user's display name; empty for one-time PIN
	Email              string    // the user's e-mail address
	Groups             []Group   // the identity-provider groups; see Group
	IdP                IdP       // the identity provider the user logged in with
	Geo                Geo       // where the user logged in from
	UserUUID           string    // the user's ID in Cloudflare Zero Trust: the token's sub (Claims.Subject)
	AccountID          string    // the Cloudflare account the application belongs to
	IssuedAt           time.Time // iat: when the user logged in; zero when absent
	IP                 string    // the address the user logged in from
	AMR                []string  // authentication methods, e.g. "pwd", "mfa"; empty for one-time PIN
	IsWarp             bool      // the session came through the WARP client
	IsGateway          bool      // the session came through Cloudflare Gateway
	DeviceID           string    // the WARP device's ID, when the device is enrolled
	ServiceTokenID     string    // the service token's ID, for a session a service token opened
	ServiceTokenStatus bool      // whether a service token authenticated the session
	Version            int       // the document's version; 0 for one-time PIN

	Custom         json.RawMessage // custom: SAML attributes / OIDC claims
	DevicePosture  json.RawMessage // devicePosture: device posture check results, by check ID
	DeviceSessions json.RawMessage // device_sessions
	OIDCFields     json.RawMessage // oidc_fields: claims of a generic OIDC provider, by name
	SAMLAttributes json.RawMessage // saml_attributes: attributes of a SAML provider, by name
	MTLSAuth       json.RawMessage // mtls_auth: the client certificate, when mTLS was used

	// Raw is the whole document as get-identity sent it.
	Raw json.RawMessage
}

// Group is one identity-provider group. Providers that report groups as plain strings give
// a Group with only Name set. A group policy (Groups) matches any of the three fields.
type Group struct {
	ID    string `json:"id,omitempty"`    // the provider's ID of the group, e.g. an Entra ID object ID
	Name  string `json:"name,omitempty"`  // the group's name
	Email string `json:"email,omitempty"` // the group's e-mail address (Google Workspace, for one)
}

// IdP names the identity provider the user logged in with.
type IdP struct {
	ID   string `json:"id"`   // the provider's ID in the Zero Trust account
	Type string `json:"type"` // its kind: "onetimepin", "azureAD", "okta", "saml", "oidc"…
}

// Geo is where the user logged in from.
type Geo struct {
	Country string `json:"country"` // an ISO 3166-1 alpha-2 code, e.g. "PT"
}

// MarshalJSON writes the document as get-identity sent it.
func (id Identity) MarshalJSON() ([]byte, error) {
	if len(id.Raw) > 0 {
		return id.Raw, nil
	}
	type plain Identity // drops this method
	return json.Marshal(plain(id))
}

var errServiceTokenIdentity = &Error{Code: CodeForbidden, Reason: ReasonServiceToken,
	Message: "a service token has no identity"}

// Identity verifies token and returns the caller's identity from get-identity. The answer is
// cached per token (see Config.Identities), and concurrent lookups for one token share a
// single call. A service token has no identity: the error is then [ErrForbidden] with
// [ReasonServiceToken]. A failed lookup is [ErrUnavailable]; a lookup that Access refuses
// (401/403, e.g. a revoked session) is [ErrInvalidToken] with [ReasonIdentityRefused].
func (v *Verifier) Identity(ctx context.Context, token string) (*Identity, error) {
	c, err := v.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	return c.Identity(ctx)
}

// identity looks up the identity of caller, whose token has verified here.
func (v *Verifier) identity(ctx context.Context, caller *Caller) (*Identity, error) {
	if caller.Claims.IsServiceToken() {
		return nil, errServiceTokenIdentity
	}
	return v.identities.get(ctx, caller.token, caller.Claims.ExpiresAt)
}

// fetchIdentity calls get-identity, on the team domain only, with the token as Access's own
// cookie. It is an identityLoader.
func (v *Verifier) fetchIdentity(ctx context.Context, token string, _ time.Time) (*Identity, time.Time, error) {
	body, status, err := v.team.Get(ctx, teamclient.IdentityPath, token)
	switch {
	case status == 401 || status == 403:
		return nil, time.Time{}, invalid(ReasonIdentityRefused, "Access refused to tell who this token belongs to", err)
	case err != nil:
		return nil, time.Time{}, v.cfg.unavailable(ReasonIdentityUnavailable, "the caller's identity could not be looked up", err)
	}
	id, err := decodeIdentity(body)
	if err != nil {
		return nil, time.Time{}, v.cfg.unavailable(ReasonIdentityUnavailable, "the caller's identity could not be looked up", err)
	}
	return id, time.Time{}, nil
}

// maxIdentityTime bounds iat, in seconds, far beyond any real one, so that a huge number
// cannot wrap around when it becomes a time.
const maxIdentityTime = 1e12

// decodeIdentity reads a get-identity document permissively: it must be a JSON object, but a
// field of an unexpected type is left empty rather than failing the whole lookup. Permissive
// is still closed: a group that cannot be read is no group.
//
// Field names are matched as Access spells them, and only so. encoding/json matches struct
// fields without regard to case, which would let "GROUPS" or {"NAME": …} stand for groups
// and names: every object is read as a map instead, whose keys are exact.
func decodeIdentity(body []byte) (*Identity, error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("get-identity: the answer is not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("get-identity: %w", err)
	}
	idp, geo := members(m["idp"]), members(m["geo"])
	id := &Identity{
		ID:                 field[string](m, "id"),
		Name:               field[string](m, "name"),
		Email:              field[string](m, "email"),
		Groups:             field[groupList](m, "groups"),
		IdP:                IdP{ID: field[string](idp, "id"), Type: field[string](idp, "type")},
		Geo:                Geo{Country: field[string](geo, "country")},
		UserUUID:           field[string](m, "user_uuid"),
		AccountID:          field[string](m, "account_id"),
		IP:                 field[string](m, "ip"),
		AMR:                field[[]string](m, "amr"),
		IsWarp:             field[bool](m, "is_warp"),
		IsGateway:          field[bool](m, "is_gateway"),
		DeviceID:           field[string](m, "device_id"),
		ServiceTokenID:     field[string](m, "service_token_id"),
		ServiceTokenStatus: field[bool](m, "service_token_status"),
		Version:            field[int](m, "version"),
		Custom:             m["custom"],
		DevicePosture:      m["devicePosture"],
		DeviceSessions:     m["device_sessions"],
		OIDCFields:         m["oidc_fields"],
		SAMLAttributes:     m["saml_attributes"],
		MTLSAuth:           m["mtls_auth"],
		Raw:                body,
	}
	if iat := field[float64](m, "iat"); iat > 0 && iat < maxIdentityTime {
		id.IssuedAt = time.Unix(int64(iat), 0)
	}
	return id, nil
}

// members reads a JSON object into its members, by their exact names; nil when raw is not
// an object.
func members(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// field decodes the member called name; it is the zero T when absent or of another type.
func field[T any](m map[string]json.RawMessage, name string) T {
	var v T
	if raw, ok := m[name]; ok && json.Unmarshal(raw, &v) != nil {
		var zero T
		return zero
	}
	return v
}

// groupList reads groups in either shape Access uses: strings, or {id, name, email} objects,
// whose fields are matched exactly too. Anything else in the list, and any empty group, is
// skipped; anything but a list is no groups. It never fails.
type groupList []Group

func (g *groupList) UnmarshalJSON(b []byte) error {
	*g = nil
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		return nil
	}
	out := make(groupList, 0, len(items))
	for _, item := range items {
		var grp Group
		if json.Unmarshal(item, &grp.Name) != nil { // not a string: an object, or nothing
			obj := members(item)
			grp = Group{ID: field[string](obj, "id"), Name: field[string](obj, "name"), Email: field[string](obj, "email")}
		}
		if grp != (Group{}) {
			out = append(out, grp)
		}
	}
	*g = out
	return nil
}

// groupsFromClaim reads the groups a token carries under custom[name], in either shape, and
// whether the token carries that claim at all.
func groupsFromClaim(custom json.RawMessage, name string) ([]Group, bool) {
	m := members(custom)
	_, present := m[name]
	return field[groupList](m, name), present
}
