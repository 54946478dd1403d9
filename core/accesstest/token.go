package accesstest

import (
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Token describes a token to mint. Every zero field takes the default Access itself would
// use, so that Token{Email: "ann@example.com"} is a valid user token and
// Token{CommonName: "….access"} a valid service token, each of the shape Access issues
// (Cloudflare's application-token reference): a user token has sub, email, type "app",
// identity_nonce and nbf; a service token has type "app", an empty sub, common_name, and no
// nbf, email or identity_nonce. To produce a broken token, set a field to a wrong value,
// list claims in Omit, or override anything through Claims.
type Token struct {
	Email      string   // the user's e-mail; empty for a service token
	Subject    string   // sub, also get-identity's user_uuid; default: a stable UUID derived from Email ("" for a service token)
	CommonName string   // common_name: set it (and leave Email empty) for a service token
	Audience   []string // aud; default: the server's AUD (minted as an array, as Access does)
	Issuer     string   // iss; default: the server's URL

	IssuedAt  time.Time // iat; default: now
	NotBefore time.Time // nbf; default: IssuedAt for a user token, absent for a service token
	ExpiresAt time.Time // exp; default: IssuedAt + 1 h

	Type          string         // type; default "app"
	Country       string         // country; absent by default
	IdentityNonce string         // identity_nonce; default: random for a user token
	Custom        map[string]any // the "custom" claim (SAML/OIDC attributes); absent by default

	// Claims are set last, over everything above: add unusual claims or replace any claim with
	// a value of the wrong type.
	Claims map[string]any
	// Omit lists claims to leave out, e.g. "exp" or "iss".
	Omit []string

	// KeyID is the kid written in the header. When it names a key this server has (or had),
	// that key signs; otherwise the current key signs under a kid that nobody publishes.
	// Default: the current key.
	KeyID string

	// IdP is the identity provider the user signed in with, which decides the shape of their
	// get-identity document (see IdP). Default: the server's (WithIdP), GoogleWorkspace
	// unless set.
	IdP IdP
	// Groups are the user's identity-provider groups, as IdP reports them: {id, name, email}
	// objects in get-identity's "groups" for GoogleWorkspace, {id, name} for Okta, EntraID
	// and GitHub, the "groups" attribute for SAML and OIDC; OneTimePIN users have none.
	Groups []string
	// Attributes are the SAML attributes (IdP SAML, get-identity's saml_attributes) or OIDC
	// claims (any other IdP, oidc_fields) that Access passes on, over the provider's own.
	Attributes map[string]any
	// Identity is merged over the get-identity document of this token; a nil value removes a
	// field. Use it for string groups ({"groups": []string{…}}) or custom identity fields.
	Identity map[string]any
}

type identityInfo struct {
	doc []byte
}

// identityRef is where get-identity files a token's identity: under its identity_nonce, as
// Access does, or under the client ID for a service token, which has no nonce.
func identityRef(claims map[string]any) string {
	if nonce, _ := claims["identity_nonce"].(string); nonce != "" {
		return nonce
	}
	if cn, _ := claims["common_name"].(string); cn != "" {
		return "service:" + cn
	}
	return ""
}

// User mints a token for the user email, valid for an hour; get-identity will report groups,
// in the shape of the server's identity provider (GoogleWorkspace unless WithIdP says).
func (s *Server) User(email string, groups ...string) string {
	return s.Mint(Token{Email: email, Groups: groups})
}

// UserFrom mints a token for the user email who signed in with idp, valid for an hour;
// get-identity will report groups as that provider delivers them.
func (s *Server) UserFrom(idp IdP, email string, groups ...string) string {
	return s.Mint(Token{Email: email, Groups: groups, IdP: idp})
}

// ServiceToken mints a token for the service token clientID, valid for an hour. An empty
// clientID gets a random one of Cloudflare's shape, "<32 hex digits>.access".
func (s *Server) ServiceToken(clientID string) string {
	if clientID == "" {
		clientID = randomHex(16) + ".access"
	}
	return s.Mint(Token{CommonName: clientID})
}

// Mint signs t and returns the compact token. It panics only if t.Claims, t.Custom or
// t.Identity hold values that encoding/json cannot encode.
func (s *Server) Mint(t Token) string {
	service := t.CommonName != "" && t.Email == ""
	now := time.Now()
	iat := orTime(t.IssuedAt, now)
	claims := map[string]any{
		"iss":  orString(t.Issuer, s.URL),
		"aud":  t.Audience,
		"iat":  iat.Unix(),
		"exp":  orTime(t.ExpiresAt, iat.Add(time.Hour)).Unix(),
		"type": orString(t.Type, "app"),
	}
	if len(t.Audience) == 0 {
		claims["aud"] = []string{s.AUD}
	}
	if service {
		claims["sub"] = t.Subject
		claims["common_name"] = t.CommonName
		if !t.NotBefore.IsZero() {
			claims["nbf"] = t.NotBefore.Unix()
		}
		setIf(claims, "identity_nonce", t.IdentityNonce)
	} else {
		claims["sub"] = orString(t.Subject, stableUUID(t.Email))
		claims["email"] = t.Email
		claims["nbf"] = orTime(t.NotBefore, iat).Unix()
		claims["identity_nonce"] = orString(t.IdentityNonce, randomHex(8))
		setIf(claims, "common_name", t.CommonName)
	}
	setIf(claims, "country", t.Country)
	if t.Custom != nil {
		claims["custom"] = t.Custom
	}
	maps.Copy(claims, t.Claims)
	for _, name := range t.Omit {
		delete(claims, name)
	}

	if ref := identityRef(claims); ref != "" {
		doc := s.identityDocument(t, claims, service)
		s.mu.Lock()
		s.identities[ref] = identityInfo{doc: doc}
		s.mu.Unlock()
	}
	return s.sign(t.KeyID, claims)
}

// sign encodes claims under an RS256 header naming kid (the current key's when empty).
func (s *Server) sign(kid string, claims map[string]any) string {
	s.mu.Lock()
	key := s.current
	if k := s.all[kid]; k != nil {
		key = k
	}
	if kid == "" {
		kid = key.kid
	}
	s.mu.Unlock()

	header := mustJSON(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	return signWith(key, b64(header)+"."+b64(mustJSON(claims)))
}

// identityDocument builds what get-identity answers for this token, in Cloudflare's shape:
// the fields of the application-token reference's table common to every user, then those of
// the user's identity provider (userIdentity).
func (s *Server) identityDocument(t Token, claims map[string]any, service bool) []byte {
	doc := map[string]any{
		"iat":                  claims["iat"],
		"ip":                   "203.0.113.7",
		"auth_status":          "NONE",
		"common_name":          "",
		"is_warp":              false,
		"is_gateway":           false,
		"version":              2,
		"account_id":           stableHex("account:" + s.URL),
		"device_id":            "",
		"device_sessions":      map[string]any{},
		"service_token_id":     "",
		"service_token_status": false,
	}
	if service {
		doc["common_name"] = t.CommonName
		doc["service_token_id"] = stableUUID(t.CommonName)
		doc["service_token_status"] = true
	} else {
		sub, _ := claims["sub"].(string)
		doc["user_uuid"] = sub
		doc["email"] = t.Email
		doc["geo"] = map[string]string{"country": orString(t.Country, "US")}
		doc["devicePosture"] = map[string]any{}
		if t.Custom != nil {
			doc["custom"] = t.Custom
		}
		userIdentity(doc, cmp.Or(t.IdP, s.idp, GoogleWorkspace), t)
	}
	for k, v := range t.Identity {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	return mustJSON(doc)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("accesstest: encoding JSON: ", err))
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func orString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orTime(v, def time.Time) time.Time {
	if v.IsZero() {
		return def
	}
	return v
}

// stableUUID derives a UUID-shaped ID from s, so that one user keeps one sub across tokens.
func stableUUID(s string) string {
	h := sha256.Sum256([]byte(s))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func stableHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// SignRaw signs header.payload with the current key, whatever the two contain, and returns the
// compact token. It is for tests of tokens that are validly signed but malformed inside; the
// header should name the current key (CurrentKeyID) for the signature to verify.
func (s *Server) SignRaw(header, payload []byte) string {
	s.mu.Lock()
	key := s.current
	s.mu.Unlock()
	return signWith(key, b64(header)+"."+b64(payload))
}

func signWith(key *signingKey, input string) string {
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key.priv, crypto.SHA256, digest[:])
	if err != nil {
		panic("accesstest: signing: " + err.Error())
	}
	return input + "." + b64(sig)
}
