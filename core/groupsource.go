package core

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Where identity providers put groups, and so where Caller.Groups reads them:
//
//   - get-identity's top-level "groups" (the default): Okta, Entra ID (Azure AD), Google
//     Workspace, GitHub, and generic OIDC providers whose ID token has a "groups" claim;
//   - a field of get-identity's saml_attributes or oidc_fields (Config.GroupsAttribute):
//     SAML providers, Okta through SAML, generic OIDC providers with another claim;
//   - a key of the token's own "custom" claim (Config.GroupsClaim), with no call at all.

// checkGroupSources refuses a configuration that names two places for the groups.
func checkGroupSources(claim, attribute string) error {
	switch {
	case claim != "" && attribute != "":
		return fmt.Errorf("%w: GroupsClaim %q and GroupsAttribute %q: groups come from one place; set one", ErrConfig, claim, attribute)
	case claim != strings.TrimSpace(claim):
		return fmt.Errorf("%w: GroupsClaim %q has white space around it", ErrConfig, claim)
	case attribute != strings.TrimSpace(attribute):
		return fmt.Errorf("%w: GroupsAttribute %q has white space around it", ErrConfig, attribute)
	}
	return nil
}

// attributeGroups is memoized per identity: a Caller is shared by every request of its
// token, and a policy asks for the groups on each one; decoding the attributes again every
// time would cost microseconds where the cached path costs nanoseconds.
type attributeGroups struct {
	id     *Identity
	groups []Group
}

// groupsFromAttribute returns the groups Config.GroupsAttribute names in id.
func (c *Caller) groupsFromAttribute(id *Identity, name string) []Group {
	if m := c.attrGroups.Load(); m != nil && m.id == id {
		return m.groups
	}
	g, ok := groupsField(id.SAMLAttributes, name)
	if !ok {
		g, _ = groupsField(id.OIDCFields, name)
	}
	c.attrGroups.Store(&attributeGroups{id: id, groups: g})
	return g
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
