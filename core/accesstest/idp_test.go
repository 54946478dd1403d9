package accesstest_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// identityOf returns the claims of token and its get-identity document, as raw fields.
func identityOf(t *testing.T, srv *accesstest.Server, token string) (claims map[string]any, doc map[string]json.RawMessage) {
	t.Helper()
	r := get(t, srv.URL+identityPath, cookieFor(token))
	if r.status != http.StatusOK {
		t.Fatalf("get-identity: status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("get-identity: %v: %s", err, r.body)
	}
	return parseJWT(t, token).claims, doc
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// TestIdPShapes checks each provider's get-identity document against what Access sends for
// it: the fields every user has, the provider's own subject as id, and groups where and how
// the provider delivers them.
func TestIdPShapes(t *testing.T) {
	srv := testkit.NewTeam(t)
	uuid := uuidShape
	tests := []struct {
		idp     accesstest.IdP
		id      *regexp.Regexp
		version int
		present []string // besides the fields every user has
		absent  []string
		// groups is where the groups "admins" and "ops" must be, and in what JSON.
		groupsField string
		groups      func(t *testing.T, raw json.RawMessage)
	}{
		{accesstest.GoogleWorkspace, regexp.MustCompile(`^[1-9][0-9]{20}$`), 2,
			[]string{"name", "amr", "groups"}, []string{"saml_attributes", "oidc_fields"},
			"groups", objectGroups("id", "name", "email")},
		{accesstest.OneTimePIN, uuid, 0,
			nil, []string{"name", "amr", "groups", "saml_attributes", "oidc_fields"},
			"", nil},
		{accesstest.Okta, regexp.MustCompile(`^00u[0-9A-Za-z]{17}$`), 2,
			[]string{"name", "amr", "groups"}, []string{"saml_attributes", "oidc_fields"},
			"groups", objectGroups("id", "name")},
		{accesstest.EntraID, regexp.MustCompile(`^[0-9A-Za-z_-]{43}$`), 2,
			[]string{"name", "amr", "groups"}, []string{"saml_attributes", "oidc_fields"},
			"groups", objectGroups("id", "name")},
		{accesstest.GitHub, regexp.MustCompile(`^[1-9][0-9]{7}$`), 2,
			[]string{"name", "groups"}, []string{"amr", "saml_attributes", "oidc_fields"},
			"groups", objectGroups("id", "name")},
		{accesstest.SAML, hex32Shape, 2,
			[]string{"name", "saml_attributes"}, []string{"groups", "amr", "oidc_fields"},
			"saml_attributes", attributeGroups},
		{accesstest.OIDC, regexp.MustCompile(`^[0-9A-Za-z]{24}$`), 0,
			[]string{"oidc_fields"}, []string{"name", "groups", "amr", "saml_attributes"},
			"oidc_fields", attributeGroups},
	}
	if len(tests) != len(accesstest.IdPs()) {
		t.Fatalf("%d shapes tested, IdPs() lists %d", len(tests), len(accesstest.IdPs()))
	}
	common := []string{"id", "email", "idp", "geo", "user_uuid", "account_id", "iat", "ip", "auth_status",
		"common_name", "service_token_id", "service_token_status", "is_warp", "is_gateway", "device_id",
		"devicePosture", "device_sessions", "version"}
	for _, tt := range tests {
		t.Run(string(tt.idp), func(t *testing.T) {
			claims, doc := identityOf(t, srv, srv.UserFrom(tt.idp, "ann@example.com", "admins", "ops"))
			for _, f := range append(slices.Clone(common), tt.present...) {
				if _, ok := doc[f]; !ok {
					t.Errorf("%s missing", f)
				}
			}
			// WARP's field, for sessions that came through WARP only (Token.WARP).
			for _, f := range append(slices.Clone(tt.absent), "gateway_account_id") {
				if v, ok := doc[f]; ok {
					t.Errorf("%s = %s, want absent", f, v)
				}
			}
			if id := str(doc["id"]); !tt.id.MatchString(id) || id == claims["sub"] {
				t.Errorf("id %q, want the provider's subject (%s), not sub %v", id, tt.id, claims["sub"])
			}
			if str(doc["user_uuid"]) != claims["sub"] || str(doc["email"]) != "ann@example.com" {
				t.Errorf("user_uuid %s email %s, want sub %v and the e-mail", doc["user_uuid"], doc["email"], claims["sub"])
			}
			var idp struct{ ID, Type string }
			if err := json.Unmarshal(doc["idp"], &idp); err != nil || idp.Type != string(tt.idp) || !uuid.MatchString(idp.ID) {
				t.Errorf("idp %s, want {id: a UUID, type: %s}", doc["idp"], tt.idp)
			}
			if v := string(doc["version"]); v != map[int]string{0: "0", 2: "2"}[tt.version] {
				t.Errorf("version %s, want %d", v, tt.version)
			}
			if tt.groups != nil {
				tt.groups(t, doc[tt.groupsField])
			}

			// The same user keeps the same id; another user gets another.
			_, again := identityOf(t, srv, srv.UserFrom(tt.idp, "ann@example.com"))
			_, other := identityOf(t, srv, srv.UserFrom(tt.idp, "bob@example.com"))
			if str(again["id"]) != str(doc["id"]) || str(other["id"]) == str(doc["id"]) {
				t.Errorf("ids %s, %s (same user), %s (another): want stable per user", doc["id"], again["id"], other["id"])
			}
		})
	}
}

// objectGroups checks a "groups" list of objects with exactly the given fields, named admins
// and ops, with distinct IDs.
func objectGroups(fields ...string) func(t *testing.T, raw json.RawMessage) {
	slices.Sort(fields)
	return func(t *testing.T, raw json.RawMessage) {
		t.Helper()
		var groups []map[string]string
		if err := json.Unmarshal(raw, &groups); err != nil || len(groups) != 2 {
			t.Fatalf("groups %s, want two objects", raw)
		}
		for i, name := range []string{"admins", "ops"} {
			if got := sortedKeys(groups[i]); !slices.Equal(got, fields) {
				t.Errorf("groups[%d] fields %q, want %q", i, got, fields)
			}
			if groups[i]["name"] != name || groups[i]["id"] == "" {
				t.Errorf("groups[%d] = %v, want %s with an id", i, groups[i], name)
			}
		}
		if groups[0]["id"] == groups[1]["id"] {
			t.Errorf("two groups share the id %q", groups[0]["id"])
		}
	}
}

// attributeGroups checks attributes (saml_attributes, oidc_fields) whose "groups" are the
// list of strings admins, ops.
func attributeGroups(t *testing.T, raw json.RawMessage) {
	t.Helper()
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		t.Fatalf("attributes %s: %v", raw, err)
	}
	var groups []string
	if err := json.Unmarshal(attrs[accesstest.GroupsAttribute], &groups); err != nil || !slices.Equal(groups, []string{"admins", "ops"}) {
		t.Errorf("attribute %q = %s, want [admins ops]", accesstest.GroupsAttribute, attrs[accesstest.GroupsAttribute])
	}
}

func TestIdPOptions(t *testing.T) {
	t.Run("WithIdP sets the provider of User and Mint", func(t *testing.T) {
		srv := testkit.NewTeam(t, accesstest.WithIdP(accesstest.EntraID))
		for _, tok := range []string{srv.User("ann@example.com", "admins"), srv.Mint(accesstest.Token{Email: "ann@example.com"})} {
			_, doc := identityOf(t, srv, tok)
			if got := string(doc["idp"]); !regexp.MustCompile(`"type":"azureAD"`).MatchString(got) {
				t.Errorf("idp %s, want azureAD", got)
			}
		}
		// Token.IdP wins over the server's.
		_, doc := identityOf(t, srv, srv.Mint(accesstest.Token{Email: "ann@example.com", IdP: accesstest.OneTimePIN}))
		if string(doc["version"]) != "0" {
			t.Errorf("Token.IdP OneTimePIN: version %s, want 0", doc["version"])
		}
	})
	t.Run("no groups", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		for _, idp := range accesstest.IdPs() {
			_, doc := identityOf(t, srv, srv.UserFrom(idp, "ann@example.com"))
			if g, ok := doc["groups"]; ok && string(g) != "[]" {
				t.Errorf("%s: groups %s, want [] or absent", idp, g)
			}
			var attrs map[string]json.RawMessage
			_ = json.Unmarshal(doc["saml_attributes"], &attrs)
			_ = json.Unmarshal(doc["oidc_fields"], &attrs)
			if _, ok := attrs[accesstest.GroupsAttribute]; ok {
				t.Errorf("%s: a groups attribute with no groups", idp)
			}
		}
	})
	t.Run("Attributes", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		attrs := map[string]any{"memberOf": []string{"cn=admins"}, "department": "eng"}
		for idp, field := range map[accesstest.IdP]string{
			accesstest.SAML: "saml_attributes", accesstest.OIDC: "oidc_fields", accesstest.Okta: "oidc_fields",
			accesstest.EntraID: "oidc_fields", accesstest.OneTimePIN: "oidc_fields",
		} {
			_, doc := identityOf(t, srv, srv.Mint(accesstest.Token{Email: "ann@example.com", IdP: idp,
				Groups: []string{"admins"}, Attributes: attrs}))
			var got map[string]any
			if err := json.Unmarshal(doc[field], &got); err != nil {
				t.Fatalf("%s: %s = %s", idp, field, doc[field])
			}
			if got["department"] != "eng" || len(got["memberOf"].([]any)) != 1 {
				t.Errorf("%s: %s = %s, want the attributes", idp, field, doc[field])
			}
		}
	})
	t.Run("an unknown IdP gets Google's shape under its own type", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		_, doc := identityOf(t, srv, srv.UserFrom("yandex", "ann@example.com", "admins", "ops"))
		if !regexp.MustCompile(`"type":"yandex"`).Match(doc["idp"]) {
			t.Errorf("idp %s", doc["idp"])
		}
		objectGroups("email", "id", "name")(t, doc["groups"])
	})
}
