package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// TestIdentityProviders runs each identity provider's real token and get-identity shapes
// through Verify, Identity and group policies, with the configuration its documentation
// calls for: get-identity's groups for most, GroupsAttribute for SAML and generic OIDC.
func TestIdentityProviders(t *testing.T) {
	type want struct {
		groups []string // Groups' names for a user minted with admins, ops
		byID   bool     // groups carry an ID a policy can name
		email  bool     // groups carry an e-mail a policy can name
		name   bool     // the identity has a name
	}
	for _, tc := range []struct {
		idp       accesstest.IdP
		attribute string // the name given to GroupsAttribute, if any
		want      want
	}{
		{accesstest.GoogleWorkspace, "", want{[]string{"admins", "ops"}, true, true, true}},
		{accesstest.Okta, "", want{[]string{"admins", "ops"}, true, false, true}},
		{accesstest.EntraID, "", want{[]string{"admins", "ops"}, true, false, true}},
		{accesstest.GitHub, "", want{[]string{"admins", "ops"}, true, false, true}},
		{accesstest.OneTimePIN, "", want{nil, false, false, false}},
		{accesstest.SAML, "", want{nil, false, false, true}}, // groups are an attribute: not read without GroupsAttribute
		{accesstest.SAML, accesstest.GroupsAttribute, want{[]string{"admins", "ops"}, false, false, true}},
		{accesstest.OIDC, "", want{nil, false, false, false}},
		{accesstest.OIDC, accesstest.GroupsAttribute, want{[]string{"admins", "ops"}, false, false, false}},
		{accesstest.GoogleWorkspace, accesstest.GroupsAttribute, want{nil, false, false, true}}, // one place only
	} {
		t.Run(fmt.Sprintf("%s/GroupsAttribute=%q", tc.idp, tc.attribute), func(t *testing.T) {
			srv := testkit.NewTeam(t, accesstest.WithIdP(tc.idp))
			cfg := testkit.Config(srv, nil)
			if tc.attribute != "" {
				cfg.Groups = core.GroupsAttribute(tc.attribute)
			}
			v := testkit.NewVerifier(t, cfg)
			ctx := context.Background()

			tok := srv.User("ann@example.com", "admins", "ops")
			claims, err := v.Verify(ctx, tok)
			if err != nil || claims.Email != "ann@example.com" || claims.Subject == "" || claims.Type != "app" {
				t.Fatalf("Verify = %+v, %v", claims, err)
			}
			id, err := v.Identity(ctx, tok)
			if err != nil {
				t.Fatalf("Identity: %v", err)
			}
			if id.ID == "" || id.ID == claims.Subject || id.UserUUID != claims.Subject || id.IdP.Type != string(tc.idp) {
				t.Errorf("identity id %q user_uuid %q idp %+v; want the provider's subject, the token's sub %q and %s",
					id.ID, id.UserUUID, id.IdP, claims.Subject, tc.idp)
			}
			if (id.Name != "") != tc.want.name {
				t.Errorf("name %q, want one: %v", id.Name, tc.want.name)
			}

			caller, err := v.Authenticate(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			groups, err := caller.Groups(ctx)
			if err != nil {
				t.Fatalf("Groups: %v", err)
			}
			var names []string
			for _, gr := range groups {
				names = append(names, gr.Name)
			}
			if !slices.Equal(names, tc.want.groups) {
				t.Fatalf("Groups = %+v, want the names %q", groups, tc.want.groups)
			}

			allow := func(p core.Policy, tok string) bool {
				if err := p.Err(); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				caller, err := v.Authenticate(ctx, tok)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				ok, err := p.Allow(ctx, caller)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				return ok
			}
			member := len(tc.want.groups) > 0
			if got := allow(core.Groups("admins"), tok); got != member {
				t.Errorf("Groups(admins) allows the user: %v, want %v", got, member)
			}
			if allow(core.Groups("Admins"), tok) || allow(core.Groups("staff"), tok) {
				t.Error("a group the user is not in (names are matched exactly) allowed them")
			}
			if allow(core.Groups("admins"), srv.User("bob@example.com", "staff")) {
				t.Error("Groups(admins) allows a member of staff only")
			}
			if allow(core.Groups("admins"), srv.ServiceToken("")) {
				t.Error("Groups(admins) allows a service token")
			}
			if tc.want.byID && !allow(core.Groups(groups[0].ID), tok) {
				t.Errorf("Groups(%q), the group's ID, refused the user", groups[0].ID)
			}
			if tc.want.email != (len(groups) > 0 && groups[0].Email != "") {
				t.Errorf("group %+v: an e-mail? want %v", groups, tc.want.email)
			}
			if tc.want.email && !allow(core.Groups(strings.ToUpper(groups[0].Email)), tok) {
				t.Errorf("Groups(%q), the group's e-mail, refused the user", groups[0].Email)
			}
		})
	}
}

// TestGroupsAttributeThroughServer: a Groups policy over real HTTP for a SAML user whose
// groups are the SAML attribute memberOf.
func TestGroupsAttributeThroughServer(t *testing.T) {
	srv := testkit.NewTeam(t, accesstest.WithIdP(accesstest.SAML))
	cfg := testkit.Config(srv, nil)
	cfg.Groups = core.GroupsAttribute("memberOf")
	admins := core.Groups("cn=admins,ou=groups") // an LDAP DN, as SAML providers name groups
	if err := admins.Err(); err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(guarded(testkit.NewVerifier(t, cfg), &admins, http.HandlerFunc(echoCaller)))
	t.Cleanup(origin.Close)
	mint := func(email string, memberOf ...string) string {
		return srv.Mint(accesstest.Token{Email: email, Attributes: map[string]any{"memberOf": memberOf}})
	}
	for _, tc := range []struct {
		token  string
		status int
	}{
		{mint("ann@example.com", "cn=staff,ou=groups", "cn=admins,ou=groups"), 200},
		{mint("bob@example.com", "cn=staff,ou=groups"), 403},
		{srv.UserFrom(accesstest.SAML, "carl@example.com", "cn=admins,ou=groups"), 403}, // in "groups", not memberOf
	} {
		resp := testkit.Get(t, origin.URL, "app.example.com", map[string]string{core.HeaderName: tc.token})
		if resp.Status != tc.status {
			t.Errorf("status %d, want %d", resp.Status, tc.status)
		}
	}
}

// TestGroupsAttributeValues: what GroupsAttribute makes of each shape an attribute may take.
func TestGroupsAttributeValues(t *testing.T) {
	srv := testkit.NewTeam(t)
	v := groupsFrom(t, srv, core.GroupsAttribute("roles"))
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		identity map[string]any // merged over the document
		want     []core.Group
	}{
		{"SAML, a list", map[string]any{"saml_attributes": map[string]any{"roles": []string{"a", "b"}}}, []core.Group{{Name: "a"}, {Name: "b"}}},
		{"SAML, one value", map[string]any{"saml_attributes": map[string]any{"roles": "a"}}, []core.Group{{Name: "a"}}},
		{"OIDC, a list", map[string]any{"oidc_fields": map[string]any{"roles": []string{"a"}}}, []core.Group{{Name: "a"}}},
		{"objects, as get-identity's groups", map[string]any{"oidc_fields": map[string]any{"roles": []map[string]string{{"id": "1", "name": "a"}}}},
			[]core.Group{{ID: "1", Name: "a"}}},
		{"SAML first", map[string]any{"saml_attributes": map[string]any{"roles": []string{"saml"}}, "oidc_fields": map[string]any{"roles": []string{"oidc"}}},
			[]core.Group{{Name: "saml"}}},
		{"OIDC when SAML has no such field", map[string]any{"saml_attributes": map[string]any{"other": "x"}, "oidc_fields": map[string]any{"roles": []string{"oidc"}}},
			[]core.Group{{Name: "oidc"}}},
		{"a field of SAML wins even when empty", map[string]any{"saml_attributes": map[string]any{"roles": []string{}}, "oidc_fields": map[string]any{"roles": []string{"oidc"}}},
			[]core.Group{}},
		{"names are matched exactly", map[string]any{"saml_attributes": map[string]any{"Roles": []string{"a"}}}, nil},
		{"an object on its own is no group", map[string]any{"saml_attributes": map[string]any{"roles": map[string]string{"name": "a"}}}, []core.Group{}},
		{"a number is no group", map[string]any{"saml_attributes": map[string]any{"roles": 7}}, []core.Group{}},
		{"junk in the list is skipped", map[string]any{"saml_attributes": map[string]any{"roles": []any{"a", 7, nil, true, ""}}}, []core.Group{{Name: "a"}}},
		{"an empty string is no group", map[string]any{"saml_attributes": map[string]any{"roles": ""}}, nil},
		{"comma-separated values stay one group", map[string]any{"saml_attributes": map[string]any{"roles": "a,b"}}, []core.Group{{Name: "a,b"}}},
		{"attributes that are not objects", map[string]any{"saml_attributes": []string{"roles"}, "oidc_fields": "roles"}, nil},
		{"top-level groups are not read", map[string]any{"groups": []string{"a"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := srv.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{"top-level"}, Identity: tc.identity})
			caller, err := v.Authenticate(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			got, err := caller.Groups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Groups = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestGroupsAttributeConfig(t *testing.T) {
	srv := testkit.NewTeam(t)
	for _, tc := range []struct {
		name   string
		groups core.GroupSource
		want   string
	}{
		{"attribute with white space", core.GroupsAttribute(" groups"), "white space"},
		{"claim with white space", core.GroupsClaim("groups\t"), "white space"},
		{"attribute without a name", core.GroupsAttribute(""), "empty"},
		{"claim of blanks", core.GroupsClaim("  "), "empty"},
	} {
		cfg := testkit.Config(srv, nil)
		cfg.Groups = tc.groups
		if _, err := core.NewVerifier(cfg); !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewVerifier error = %v, want ErrConfig mentioning %q", tc.name, err, tc.want)
		}
		if err := cfg.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
	}
	for src, want := range map[core.GroupSource]string{
		{}: "identity", core.GroupsClaim("g"): "claim:g", core.GroupsAttribute("memberOf"): "attribute:memberOf",
	} {
		if got := src.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

// TestGroupsAttributeOutage: the groups of an attribute come from get-identity, so an outage
// fails closed as for any group policy.
func TestGroupsAttributeOutage(t *testing.T) {
	srv := testkit.NewTeam(t, accesstest.WithIdP(accesstest.OIDC))
	v := groupsFrom(t, srv, core.GroupsAttribute(accesstest.GroupsAttribute))
	srv.FailIdentity(accesstest.Status500)
	failsClosed(t, v, core.Groups("admins"), srv.User("ann@example.com", "admins"))
}
