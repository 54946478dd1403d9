package core

import (
	"encoding/json"
)

// Where identity providers put groups, and so where Caller.Groups reads them:
//
//   - get-identity's top-level "groups" (the default): Okta, Entra ID (Azure AD), Google
//     Workspace, GitHub, and generic OIDC providers whose ID token has a "groups" claim;
//   - a field of get-identity's saml_attributes or oidc_fields (GroupsAttribute): SAML
//     providers, Okta through SAML, generic OIDC providers with another claim;
//   - a key of the token's own "custom" claim (GroupsClaim), with no call at all when the
//     token carries it.

// attributeGroups is memoized per identity: a Caller is shared by every request of its
// token, and a policy asks for the groups on each one; decoding the attributes again every
// time would cost microseconds where the cached path costs nanoseconds.
type attributeGroups struct {
	id     *Identity
	groups []Group
	found  bool
}

// groupsFromAttribute returns the groups of the field name of id's saml_attributes, or else
// of its oidc_fields, and whether either has the field.
func (c *Caller) groupsFromAttribute(id *Identity, name string) ([]Group, bool) {
	if m := c.attrGroups.Load(); m != nil && m.id == id {
		return m.groups, m.found
	}
	g, ok := groupsField(id.SAMLAttributes, name)
	if !ok {
		g, ok = groupsField(id.OIDCFields, name)
	}
	c.attrGroups.Store(&attributeGroups{id: id, groups: g, found: ok})
	return g, ok
}

// groupsField reads obj[name] as groups: one string, a list of strings, or a list of
// {id, name, email} objects (as get-identity's own list). ok reports whether obj has the
// field at all, whatever it holds.
func groupsField(obj json.RawMessage, name string) (groups []Group, ok bool) {
	if len(obj) == 0 {
		return nil, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) != nil {
		return nil, false
	}
	raw, ok := fields[name]
	if !ok {
		return nil, false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, true
		}
		return []Group{{Name: one}}, true
	}
	var list groupList
	_ = list.UnmarshalJSON(raw)
	return list, true
}
