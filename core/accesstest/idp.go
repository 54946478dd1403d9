package accesstest

import (
	"math/big"
	"strings"
)

// IdP is a kind of identity provider: the login method a user signed in with, which decides
// the shape of their get-identity document. Its value is what Access writes in idp.type.
//
// Access's documents differ by provider in ways that break code tested against one shape
// only: get-identity's "id" is the provider's own subject for the user (never the token's
// sub, which is "user_uuid"); one-time-PIN users have no name, groups or amr; Entra ID
// groups have no e-mail; SAML and generic OIDC providers deliver groups as attributes
// (saml_attributes, oidc_fields) rather than in the "groups" list. Test against each kind
// your Access applications allow.
//
// The shapes follow Cloudflare's documentation and public captures: the get-identity field
// table of the application-token reference (developers.cloudflare.com/cloudflare-one/
// identity/authorization-cookie/application-token/), the Entra ID identity in the
// "Generic SAML application" page's JSONata examples (id "OidHvkPt-I-13IBSnd…", groups
// {id, name}), a generic OIDC capture with version 0 and neither
// name, groups nor amr (documentation.breadnet.co.uk, "Cloudflare cdn-cgi endpoints"), and
// the identity-based selectors of Gateway, which say per provider whether groups arrive by
// name, ID or as a SAML attribute. Where no public document shows a field, the shape
// leaves it out rather than invent one.
type IdP string

// The identity providers whose shapes the server knows.
const (
	// GoogleWorkspace (idp.type "google-apps"), the default: groups are {id, name, email}
	// objects, as Google groups have addresses; id is Google's numeric subject.
	GoogleWorkspace IdP = "google-apps"
	// OneTimePIN (idp.type "onetimepin"): an e-mailed code, so no name, no groups, no amr,
	// and version 0.
	OneTimePIN IdP = "onetimepin"
	// Okta through OIDC (idp.type "okta"): groups are {id, name} with Okta's "00g…" IDs;
	// id is Okta's "00u…" user ID.
	Okta IdP = "okta"
	// EntraID, formerly Azure AD (idp.type "azureAD"): groups are {id, name}, with the
	// group's object ID and no e-mail; id is the 43-character pairwise subject.
	EntraID IdP = "azureAD"
	// GitHub (idp.type "github"): groups are {id, name}, named after the organization's
	// teams; id is the numeric GitHub user ID.
	GitHub IdP = "github"
	// SAML, a generic SAML 2.0 provider (idp.type "saml"): no "groups" list; the groups are
	// the "groups" SAML attribute, under saml_attributes, with Token.Attributes.
	SAML IdP = "saml"
	// OIDC, a generic OpenID Connect provider (idp.type "oidc"): no name, "groups" list or
	// amr, version 0; the groups are the "groups" claim, under oidc_fields, with
	// Token.Attributes.
	OIDC IdP = "oidc"
)

// IdPs lists every kind the server knows, for tests that run over all of them.
func IdPs() []IdP {
	return []IdP{GoogleWorkspace, OneTimePIN, Okta, EntraID, GitHub, SAML, OIDC}
}

// GroupsAttribute is the SAML attribute (SAML) or OIDC claim (OIDC) under which a user's
// groups are served for the providers that deliver them as attributes.
const GroupsAttribute = "groups"

// userIdentity fills doc, the common part of a user's get-identity document, with what idp
// adds: its own subject as "id", name, groups, amr, version and attributes.
func userIdentity(doc map[string]any, idp IdP, t Token) {
	local, domain, _ := strings.Cut(t.Email, "@")
	domain = orString(domain, "example.com")
	key := string(idp) + ":" + t.Email
	doc["idp"] = map[string]string{"id": stableUUID("idp:" + string(idp)), "type": string(idp)}
	doc["version"] = 2
	var (
		groups     []map[string]string
		attributes map[string]any
	)
	group := func(g string, id string) map[string]string { return map[string]string{"id": id, "name": g} }
	switch idp {
	case OneTimePIN:
		doc["id"] = stableUUID(key)
		doc["version"] = 0
	case Okta:
		doc["id"] = "00u" + stableAlnum(key, 17)
		doc["name"] = local
		doc["amr"] = []string{"pwd", "mfa"}
		for _, g := range t.Groups {
			groups = append(groups, group(g, "00g"+stableAlnum("okta-group:"+g, 17)))
		}
	case EntraID:
		doc["id"] = stableB64(key, 43)
		doc["name"] = local
		doc["amr"] = []string{"pwd"}
		for _, g := range t.Groups {
			groups = append(groups, group(g, stableUUID("entra-group:"+g)))
		}
	case GitHub:
		doc["id"] = stableDecimal(key, 8)
		doc["name"] = local
		for _, g := range t.Groups {
			groups = append(groups, group(g, stableDecimal("github-team:"+g, 7)))
		}
	case SAML:
		doc["id"] = stableHex(key)
		doc["name"] = local
		attributes = map[string]any{}
	case OIDC:
		doc["id"] = stableAlnum(key, 24)
		doc["version"] = 0
		// A generic OIDC provider passes the claims configured in Access, as in a public
		// runbook's capture whose oidc_fields.email_verified was boolean true.
		attributes = map[string]any{"email_verified": true}
	default: // GoogleWorkspace
		doc["id"] = stableDecimal(key, 21)
		doc["name"] = local
		doc["amr"] = []string{"pwd"}
		for _, g := range t.Groups {
			grp := group(g, stableAlnum("google-group:"+g, 15))
			grp["email"] = g + "@" + domain
			groups = append(groups, grp)
		}
	}

	switch idp {
	case SAML, OIDC:
		if len(t.Groups) > 0 {
			attributes[GroupsAttribute] = t.Groups
		}
		for k, v := range t.Attributes {
			attributes[k] = v
		}
		field := "oidc_fields"
		if idp == SAML {
			field = "saml_attributes"
		}
		doc[field] = attributes
	default:
		if idp != OneTimePIN {
			if groups == nil {
				groups = []map[string]string{}
			}
			doc["groups"] = groups
		}
		if len(t.Attributes) > 0 { // custom OIDC claims, which Okta and Entra ID pass too
			doc["oidc_fields"] = t.Attributes
		}
	}
}

// The stable* helpers derive IDs of each provider's own shape from a key, so that one user
// (or group) keeps one ID across tokens.

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func stableAlnum(key string, n int) string { return stableDigits(key, n, alnum) }

func stableDecimal(key string, n int) string {
	s := stableDigits(key, n, "0123456789")
	return "1" + s[1:] // no leading zero: these are numbers
}

func stableB64(key string, n int) string {
	return stableDigits(key, n, alnum+"-_")
}

func stableDigits(key string, n int, digits string) string {
	h := new(big.Int).SetBytes([]byte(stableHex(key) + stableHex("more:"+key)))
	base := big.NewInt(int64(len(digits)))
	var b strings.Builder
	mod := new(big.Int)
	for range n {
		h.DivMod(h, base, mod)
		b.WriteByte(digits[mod.Int64()])
	}
	return b.String()
}
