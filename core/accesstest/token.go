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
	"slices"
	"time"
)

// The lifetimes of minted tokens, from their iat, unless Token.ExpiresAt says otherwise.
const (
	// UserTokenLifetime is a user token's: it lives as long as the session, and Access's
	// application session lasts 24 hours unless configured otherwise (Cloudflare's
	// "Authorization cookie" page: "If neither are set, defaults to 24 hours").
	UserTokenLifetime = 24 * time.Hour
	// ServiceTokenLifetime is a service token's JWT. Cloudflare documents no lifetime of its
	// own for it (the service token's duration is the credential's, not the JWT's), so this
	// package keeps a short one.
	ServiceTokenLifetime = time.Hour
)

// Token describes a token to mint. Every zero field takes the default Access itself would
// use, so that Token{Email: "ann@example.com"} is a valid user token and
// Token{CommonName: "….access"} a valid service token, each of the shape Access issues: a
// user token (Cloudflare's application-token reference) has an aud array, sub, email, type
// "app", identity_nonce and nbf, and lives as long as the session (UserTokenLifetime); a
// service token has what captures of production tokens show, which differs from the
// reference's sample: aud as a bare string, an empty sub, common_name, and no type, nbf,
// email or identity_nonce. To produce a broken token, set a field to a wrong value, list
// claims in Omit, or override anything through Claims.
type Token struct {
	Email      string   // the user's e-mail; empty for a service token
	Subject    string   // sub, also get-identity's user_uuid; default: a stable UUID derived from Email ("" for a service token)
	CommonName string   // common_name: set it (and leave Email empty) for a service token
	Audience   []string // aud; default: the server's AUD. Minted as an array, except one tag of a service token: a bare string
	Issuer     string   // iss; default: the server's URL

	IssuedAt  time.Time // iat; default: now
	NotBefore time.Time // nbf; default: IssuedAt for a user token, absent for a service token
	ExpiresAt time.Time // exp; default: IssuedAt + UserTokenLifetime, or + ServiceTokenLifetime for a service token

	Type          string // type; default "app" for a user token, absent for a service token
	Country       string // country; absent by default
	IdentityNonce string // identity_nonce; default: random for a user token

	// Custom is the "custom" claim: the SAML attributes or OIDC claims that the Access
	// configuration passes into the token; absent when nil. Like Access, the server trims it
	// per token, from the end of CustomOrder, until its JSON fits the budget (see
	// WithCustomBudget; DefaultCustomBudget unless set), and get-identity reports it whole
	// under "custom". To mint a token with a custom claim past the budget, untrimmed, set
	// Claims["custom"].
	Custom map[string]any
	// CustomOrder is the order in which the attributes of Custom were configured in Access,
	// the order in which the token lists them and the order that trimming undoes from the
	// end. Keys of Custom it leaves out follow, in sorted order; names it lists that Custom
	// lacks are ignored. Default: Custom's keys, sorted.
	CustomOrder []string

	// Claims are set last, over everything above: add unusual claims or replace any claim with
	// a value of the wrong type. A service token of the reference's sample shape, say, is
	// Token{CommonName: id, Type: "app", Claims: map[string]any{"aud": []string{srv.AUD}}}.
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
	// WARP says that the user's session came through the WARP client of a device enrolled in
	// the team: get-identity then reports is_warp and is_gateway true, the device's
	// device_id and the gateway_account_id that the WARP client generates, the fields that
	// Cloudflare's get-identity table describes as WARP's. Without it they are false and
	// empty, or absent, whatever the identity provider.
	WARP bool
	// Identity is merged over the get-identity document of this token; a nil value removes a
	// field. Use it for string groups ({"groups": []string{…}}) or custom identity fields. A
	// service token has no document: get-identity refuses it, Identity or not.
	Identity map[string]any
}

type identityInfo struct {
	doc []byte
}

// identityRef is where get-identity files a token's identity: under its identity_nonce, as
// Access does; "" for a token without one.
func identityRef(claims map[string]any) string {
	nonce, _ := claims["identity_nonce"].(string)
	return nonce
}

// isService reports whether claims are a service token's as get-identity tells them apart:
// no subject, and a client ID as common name.
func isService(claims map[string]any) bool {
	sub, _ := claims["sub"].(string)
	cn, _ := claims["common_name"].(string)
	return sub == "" && cn != ""
}

// User mints a token for the user email, valid for UserTokenLifetime; get-identity will
// report groups, in the shape of the server's identity provider (GoogleWorkspace unless
// WithIdP says).
func (s *Server) User(email string, groups ...string) string {
	return s.Mint(Token{Email: email, Groups: groups})
}

// UserFrom mints a token for the user email who signed in with idp, valid for
// UserTokenLifetime; get-identity will report groups as that provider delivers them.
func (s *Server) UserFrom(idp IdP, email string, groups ...string) string {
	return s.Mint(Token{Email: email, Groups: groups, IdP: idp})
}

// ServiceToken mints a token for the service token clientID, valid for ServiceTokenLifetime.
// An empty clientID gets a random one of Cloudflare's shape, "<32 hex digits>.access".
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
	lifetime := UserTokenLifetime
	if service {
		lifetime = ServiceTokenLifetime
	}
	now := time.Now()
	iat := orTime(t.IssuedAt, now)
	claims := map[string]any{
		"iss": orString(t.Issuer, s.URL),
		"aud": t.Audience,
		"iat": iat.Unix(),
		"exp": orTime(t.ExpiresAt, iat.Add(lifetime)).Unix(),
	}
	if len(t.Audience) == 0 {
		claims["aud"] = []string{s.AUD}
	}
	if aud := claims["aud"].([]string); service && len(aud) == 1 {
		claims["aud"] = aud[0]
	}
	setIf(claims, "type", t.Type)
	if service {
		claims["sub"] = t.Subject
		claims["common_name"] = t.CommonName
		if !t.NotBefore.IsZero() {
			claims["nbf"] = t.NotBefore.Unix()
		}
		setIf(claims, "identity_nonce", t.IdentityNonce)
	} else {
		claims["type"] = orString(t.Type, "app")
		claims["sub"] = orString(t.Subject, stableUUID(t.Email))
		claims["email"] = t.Email
		claims["nbf"] = orTime(t.NotBefore, iat).Unix()
		claims["identity_nonce"] = orString(t.IdentityNonce, randomHex(8))
		setIf(claims, "common_name", t.CommonName)
	}
	setIf(claims, "country", t.Country)
	if t.Custom != nil {
		claims["custom"] = customClaim(t.Custom, t.CustomOrder, s.customBudget)
	}
	maps.Copy(claims, t.Claims)
	for _, name := range t.Omit {
		delete(claims, name)
	}

	if ref := identityRef(claims); ref != "" && !service {
		doc := s.identityDocument(t, claims)
		s.mu.Lock()
		s.identities[ref] = identityInfo{doc: doc}
		s.mu.Unlock()
	}
	return s.sign(t.KeyID, claims)
}

// customClaim encodes custom as Access puts it in a token: one JSON object, its attributes
// in the configured order, the last ones dropped while it is longer than budget (bytes;
// negative: no limit). Trimmed of everything, it is an empty object: Access trims
// attributes, not the claim.
func customClaim(custom map[string]any, order []string, budget int) json.RawMessage {
	names := customOrder(custom, order)
	fields := make([][]byte, len(names))
	size := len("{}") + max(len(names)-1, 0) // braces and commas
	for i, name := range names {
		fields[i] = append(append(mustJSON(name), ':'), mustJSON(custom[name])...)
		size += len(fields[i])
	}
	for budget >= 0 && len(fields) > 0 && size > budget {
		last := len(fields) - 1
		size -= len(fields[last]) + min(last, 1) // the field and the comma before it
		fields = fields[:last]
	}
	out := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, f...)
	}
	return append(out, '}')
}

// customOrder lists the keys of custom in the configured order: those of order first,
// then the others, sorted.
func customOrder(custom map[string]any, order []string) []string {
	names := make([]string, 0, len(custom))
	for _, name := range order {
		if _, ok := custom[name]; ok && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(custom)) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
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

// identityDocument builds what get-identity answers for this user token, in Cloudflare's
// shape: the fields of the application-token reference's table common to every user, those
// of the user's identity provider (userIdentity), and WARP's when the session came through it.
func (s *Server) identityDocument(t Token, claims map[string]any) []byte {
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
	sub, _ := claims["sub"].(string)
	doc["user_uuid"] = sub
	doc["email"] = t.Email
	doc["geo"] = map[string]string{"country": orString(t.Country, "US")}
	doc["devicePosture"] = map[string]any{}
	if t.Custom != nil {
		doc["custom"] = t.Custom // whole: only the token's copy is trimmed
	}
	userIdentity(doc, cmp.Or(t.IdP, s.idp, GoogleWorkspace), t)
	if t.WARP {
		key := "warp:" + t.Email
		doc["is_warp"] = true
		doc["is_gateway"] = true
		doc["device_id"] = stableUUID("device:" + key)
		doc["gateway_account_id"] = stableB64("gateway:"+key, 27)
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
