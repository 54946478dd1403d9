package accesstest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

var googleGroupID = regexp.MustCompile(`^[0-9A-Za-z]{15}$`)

func fetchIdentity(t *testing.T, srv *accesstest.Server, cookie string) (int, map[string]any, response) {
	t.Helper()
	r := get(t, srv.URL+identityPath, cookie)
	var doc map[string]any
	if r.status == http.StatusOK {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("identity is not a JSON object: %v: %s", err, r.body)
		}
	}
	return r.status, doc, r
}

func TestGetIdentityUser(t *testing.T) {
	srv := testkit.NewTeam(t)
	token := srv.User("ann@example.com", "admins", "devs")
	claims := parseJWT(t, token).claims
	status, doc, r := fetchIdentity(t, srv, cookieFor(token))
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", status, r.body)
	}
	for _, f := range []string{"id", "name", "email", "groups", "amr", "idp", "geo", "user_uuid", "account_id",
		"iat", "ip", "is_warp", "is_gateway", "version", "device_sessions", "service_token_id", "service_token_status"} {
		if _, ok := doc[f]; !ok {
			t.Errorf("field %q missing from %s", f, r.body)
		}
	}

	groupID := map[string]string{}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"user_uuid is the token's sub, id the provider's subject", func(t *testing.T) {
			if doc["user_uuid"] != claims["sub"] {
				t.Errorf("user_uuid %v, want sub %v", doc["user_uuid"], claims["sub"])
			}
			// Google's subject is a number of 21 digits.
			if id, _ := doc["id"].(string); id == claims["sub"] || !regexp.MustCompile(`^[1-9][0-9]{20}$`).MatchString(id) {
				t.Errorf("id %v, want Google's numeric subject, not sub %v", doc["id"], claims["sub"])
			}
		}},
		{"name and email", func(t *testing.T) {
			if doc["email"] != "ann@example.com" || doc["name"] != "ann" {
				t.Errorf("email %v name %v", doc["email"], doc["name"])
			}
		}},
		{"groups as id, name, email objects", func(t *testing.T) {
			groups, ok := doc["groups"].([]any)
			if !ok || len(groups) != 2 {
				t.Fatalf("groups %#v, want two objects", doc["groups"])
			}
			for i, name := range []string{"admins", "devs"} {
				g, ok := groups[i].(map[string]any)
				if !ok {
					t.Fatalf("groups[%d] = %#v, want an object", i, groups[i])
				}
				if got := sortedKeys(g); !slices.Equal(got, []string{"email", "id", "name"}) {
					t.Errorf("groups[%d] fields %q, want email id name", i, got)
				}
				id, _ := g["id"].(string)
				if g["name"] != name || g["email"] != name+"@example.com" || !googleGroupID.MatchString(id) {
					t.Errorf("groups[%d] = %v, want name %s, email %s@example.com, a Google group id", i, g, name, name)
				}
				groupID[name] = id
			}
			if groupID["admins"] == groupID["devs"] {
				t.Error("two groups share an id")
			}
		}},
		{"group ids are stable across users", func(t *testing.T) {
			_, other, _ := fetchIdentity(t, srv, cookieFor(srv.User("bob@example.org", "admins")))
			g := other["groups"].([]any)[0].(map[string]any)
			if g["id"] != groupID["admins"] || g["email"] != "admins@example.org" {
				t.Errorf("bob's admins group %v, want id %s and the user's domain", g, groupID["admins"])
			}
		}},
		{"amr, idp, geo", func(t *testing.T) {
			if amr, ok := doc["amr"].([]any); !ok || len(amr) == 0 {
				t.Errorf("amr %#v, want a non-empty array", doc["amr"])
			}
			idp, ok := doc["idp"].(map[string]any)
			if !ok || idp["id"] == "" || idp["type"] == "" || idp["id"] == nil || idp["type"] == nil {
				t.Errorf("idp %#v, want {id, type}", doc["idp"])
			}
			if geo, ok := doc["geo"].(map[string]any); !ok || geo["country"] != "US" {
				t.Errorf("geo %#v, want {country: US} by default", doc["geo"])
			}
		}},
		{"account, iat, ip, flags, version", func(t *testing.T) {
			if s, _ := doc["account_id"].(string); !hex32Shape.MatchString(s) {
				t.Errorf("account_id %v, want 32 hex digits", doc["account_id"])
			}
			if doc["iat"] != claims["iat"] {
				t.Errorf("iat %v, want the token's %v", doc["iat"], claims["iat"])
			}
			if s, _ := doc["ip"].(string); net.ParseIP(s) == nil {
				t.Errorf("ip %v, want an IP address", doc["ip"])
			}
			if doc["is_warp"] != false || doc["is_gateway"] != false || doc["service_token_status"] != false {
				t.Errorf("is_warp %v is_gateway %v service_token_status %v, want false", doc["is_warp"], doc["is_gateway"], doc["service_token_status"])
			}
			if _, ok := doc["version"].(float64); !ok {
				t.Errorf("version %#v, want a number", doc["version"])
			}
			if _, ok := doc["device_sessions"].(map[string]any); !ok {
				t.Errorf("device_sessions %#v, want an object", doc["device_sessions"])
			}
			if doc["service_token_id"] != "" {
				t.Errorf("service_token_id %#v, want \"\" for a user", doc["service_token_id"])
			}
			// Not through WARP: no device, no gateway account.
			if doc["device_id"] != "" {
				t.Errorf("device_id %#v, want \"\"", doc["device_id"])
			}
			if v, ok := doc["gateway_account_id"]; ok {
				t.Errorf("gateway_account_id %#v, want absent", v)
			}
		}},
		{"account_id is the same for every token of the server", func(t *testing.T) {
			_, other, _ := fetchIdentity(t, srv, cookieFor(srv.UserFrom(accesstest.OneTimePIN, "bob@example.org")))
			if other["account_id"] != doc["account_id"] {
				t.Errorf("account_id %v, then %v", doc["account_id"], other["account_id"])
			}
		}},
		{"no groups is an empty array", func(t *testing.T) {
			_, _, r := fetchIdentity(t, srv, cookieFor(srv.User("carl@example.com")))
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &raw); err != nil {
				t.Fatal(err)
			}
			if string(raw["groups"]) != "[]" {
				t.Errorf("groups %s, want []", raw["groups"])
			}
		}},
		{"cookie among others", func(t *testing.T) {
			status, other, r := fetchIdentity(t, srv, "a=1; "+cookieFor(token)+"; b=2")
			if status != http.StatusOK || other["email"] != "ann@example.com" {
				t.Errorf("status %d: %s", status, r.body)
			}
		}},
		{"quoted cookie", func(t *testing.T) {
			if status, _, r := fetchIdentity(t, srv, core.CookieName+`="`+token+`"`); status != http.StatusOK {
				t.Errorf("status %d: %s", status, r.body)
			}
		}},
		{"same answer every time", func(t *testing.T) {
			_, _, again := fetchIdentity(t, srv, cookieFor(token))
			if !bytes.Equal(again.body, r.body) {
				t.Errorf("second answer differs:\n%s\n%s", r.body, again.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func TestGetIdentityOverrides(t *testing.T) {
	srv := testkit.NewTeam(t)
	tests := []struct {
		name  string
		token func() string
		check func(t *testing.T, doc map[string]any, claims map[string]any)
	}{
		{"string groups", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Groups: []string{"ignored"}, Identity: map[string]any{"groups": []string{"g1", "g2"}}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if fmt.Sprint(doc["groups"]) != "[g1 g2]" {
				t.Errorf("groups %#v, want [g1 g2] as strings", doc["groups"])
			}
		}},
		{"nil removes fields", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Identity: map[string]any{"amr": nil, "geo": nil, "not_there": nil}})
		}, func(t *testing.T, doc, _ map[string]any) {
			for _, f := range []string{"amr", "geo", "not_there"} {
				if _, ok := doc[f]; ok {
					t.Errorf("%s present, want removed", f)
				}
			}
			if doc["email"] != "a@x.com" {
				t.Errorf("email %v: other fields must stay", doc["email"])
			}
		}},
		{"added and replaced fields", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Identity: map[string]any{
				"devicePosture": map[string]any{"check": map[string]any{"success": true}},
				"email":         "other@x.com",
				"is_warp":       true,
			}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if _, ok := doc["devicePosture"].(map[string]any); !ok {
				t.Errorf("devicePosture %#v, want the object", doc["devicePosture"])
			}
			if doc["email"] != "other@x.com" || doc["is_warp"] != true {
				t.Errorf("email %v is_warp %v, want the overrides", doc["email"], doc["is_warp"])
			}
		}},
		{"Groups through Mint", func() string {
			return srv.Mint(accesstest.Token{Email: "a@corp.example", Groups: []string{"ops"}})
		}, func(t *testing.T, doc, _ map[string]any) {
			gs, _ := doc["groups"].([]any)
			if len(gs) != 1 {
				t.Fatalf("groups %#v", doc["groups"])
			}
			if g, _ := gs[0].(map[string]any); g["name"] != "ops" || g["email"] != "ops@corp.example" {
				t.Errorf("group %v", gs[0])
			}
		}},
		{"Country sets geo", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Country: "DE"})
		}, func(t *testing.T, doc, _ map[string]any) {
			if geo, _ := doc["geo"].(map[string]any); geo["country"] != "DE" {
				t.Errorf("geo %#v, want country DE", doc["geo"])
			}
		}},
		{"Custom is reported", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Custom: map[string]any{"dept": "eng"}})
		}, func(t *testing.T, doc, _ map[string]any) {
			if c, _ := doc["custom"].(map[string]any); c["dept"] != "eng" {
				t.Errorf("custom %#v, want {dept: eng}", doc["custom"])
			}
		}},
		{"Subject sets user_uuid, not id", func() string {
			return srv.Mint(accesstest.Token{Email: "a@x.com", Subject: "sub-1"})
		}, func(t *testing.T, doc, _ map[string]any) {
			if doc["id"] == "sub-1" || doc["id"] == "" || doc["user_uuid"] != "sub-1" {
				t.Errorf("id %v user_uuid %v, want the provider's id and sub-1", doc["id"], doc["user_uuid"])
			}
		}},
		{"token signed by the previous key", func() string {
			k0 := srv.KeyIDs()[0]
			srv.RotateKeys()
			return srv.Mint(accesstest.Token{Email: "prev@x.com", KeyID: k0})
		}, func(t *testing.T, doc, _ map[string]any) {
			if doc["email"] != "prev@x.com" {
				t.Errorf("email %v", doc["email"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token()
			status, doc, r := fetchIdentity(t, srv, cookieFor(token))
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", status, r.body)
			}
			tt.check(t, doc, parseJWT(t, token).claims)
		})
	}
}

func TestGetIdentityRejects(t *testing.T) {
	srv := testkit.NewTeam(t)
	foreign := testkit.NewTeam(t)
	wantOK := func(t *testing.T, cookie string) {
		t.Helper()
		if status, _, r := fetchIdentity(t, srv, cookie); status != http.StatusOK {
			t.Fatalf("control request: status %d, want 200: %s", status, r.body)
		}
	}
	tests := []struct {
		name string
		// cookie sets up the case (checking a control where one makes sense) and returns the
		// Cookie header that must be refused.
		cookie func(t *testing.T) string
	}{
		{"no cookie", func(*testing.T) string { return "" }},
		{"empty cookie", func(*testing.T) string { return core.CookieName + "=" }},
		{"cookie name in lower case", func(t *testing.T) string {
			tok := srv.User("ann@example.com")
			wantOK(t, cookieFor(tok))
			return "cf_authorization=" + tok
		}},
		{"garbage", func(*testing.T) string { return cookieFor("garbage") }},
		{"three garbage segments", func(*testing.T) string { return cookieFor("a.b.c") }},
		{"four segments", func(t *testing.T) string {
			tok := srv.User("ann@example.com")
			wantOK(t, cookieFor(tok))
			return cookieFor(tok + ".x")
		}},
		{"tampered payload", func(t *testing.T) string {
			tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "tamper"})
			wantOK(t, cookieFor(tok))
			p := parseJWT(t, tok)
			p.claims["email"] = "mallory@example.com"
			payload, _ := json.Marshal(p.claims)
			segs := strings.Split(tok, ".")
			return cookieFor(segs[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + segs[2])
		}},
		{"signature of another token", func(t *testing.T) string {
			tok := srv.User("ann@example.com")
			wantOK(t, cookieFor(tok))
			other := srv.User("ann@example.com")
			return cookieFor(tok[:strings.LastIndexByte(tok, '.')] + other[strings.LastIndexByte(other, '.'):])
		}},
		{"alg HS256 with a valid RSA signature", func(t *testing.T) string {
			payload := parseJWT(t, srv.User("ann@example.com")).payload
			raw, _ := base64.RawURLEncoding.DecodeString(payload)
			kid := srv.KeyIDs()[0]
			wantOK(t, cookieFor(srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+kid+`"}`), raw)))
			return cookieFor(srv.SignRaw([]byte(`{"alg":"HS256","kid":"`+kid+`"}`), raw))
		}},
		{"kid not published", func(t *testing.T) string {
			wantOK(t, cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "unknown-kid"})))
			return cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "unknown-kid", KeyID: "no-such-kid"}))
		}},
		{"signed by a removed key", func(t *testing.T) string {
			k0 := srv.KeyIDs()[0]
			tok := srv.User("ann@example.com")
			srv.RotateKeys()
			wantOK(t, cookieFor(tok)) // the previous key still counts
			srv.RemoveKey(k0)
			return cookieFor(tok)
		}},
		{"signed by a foreign key under this server's kid", func(t *testing.T) string {
			kid := srv.KeyIDs()[0]
			wantOK(t, cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "forged"})))
			tok := foreign.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "forged", KeyID: kid,
				Issuer: srv.URL, Audience: []string{srv.AUD}})
			if got := parseJWT(t, tok).header["kid"]; got != kid {
				t.Fatalf("forged token kid %v, want %q", got, kid)
			}
			return cookieFor(tok)
		}},
		{"service token", func(t *testing.T) string { return cookieFor(srv.ServiceToken("")) }},
		{"service token with an Identity and a nonce", func(t *testing.T) string {
			return cookieFor(srv.Mint(accesstest.Token{CommonName: "svc.access", IdentityNonce: "svc-nonce",
				Identity: map[string]any{"service_token_id": "given"}}))
		}},
		{"service token of the reference's sample shape", func(t *testing.T) string {
			return cookieFor(srv.Mint(accesstest.Token{CommonName: "svc.access", Type: "app", Claims: map[string]any{"aud": []string{srv.AUD}}}))
		}},
		{"expired", func(t *testing.T) string {
			wantOK(t, cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "expired"})))
			return cookieFor(srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "expired",
				IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Minute)}))
		}},
		{"no identity recorded for a validly signed token", func(t *testing.T) string {
			kid := srv.KeyIDs()[0]
			header := []byte(`{"alg":"RS256","kid":"` + kid + `"}`)
			exp := time.Now().Add(time.Hour).Unix()
			srv.Mint(accesstest.Token{Email: "ann@example.com", IdentityNonce: "recorded"})
			wantOK(t, cookieFor(srv.SignRaw(header, fmt.Appendf(nil, `{"exp":%d,"identity_nonce":"recorded"}`, exp))))
			return cookieFor(srv.SignRaw(header, fmt.Appendf(nil, `{"exp":%d,"identity_nonce":"never-minted"}`, exp)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie := tt.cookie(t)
			status, _, r := fetchIdentity(t, srv, cookie)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var body map[string]string
			if err := json.Unmarshal(r.body, &body); err != nil || body["err"] == "" {
				t.Errorf("401 body %s, want JSON with an err message", r.body)
			}
		})
	}
}

// A session that came through WARP has the fields of WARP, whatever the identity provider;
// any other has none of them.
func TestGetIdentityWARP(t *testing.T) {
	srv := testkit.NewTeam(t)
	for _, idp := range accesstest.IdPs() {
		t.Run(string(idp), func(t *testing.T) {
			_, doc := identityOf(t, srv, srv.Mint(accesstest.Token{Email: "ann@example.com", IdP: idp, WARP: true}))
			if string(doc["is_warp"]) != "true" || string(doc["is_gateway"]) != "true" {
				t.Errorf("is_warp %s is_gateway %s, want true", doc["is_warp"], doc["is_gateway"])
			}
			device, gateway := str(doc["device_id"]), str(doc["gateway_account_id"])
			if !uuidShape.MatchString(device) || !regexp.MustCompile(`^[0-9A-Za-z_-]{27}$`).MatchString(gateway) {
				t.Errorf("device_id %s gateway_account_id %s, want a UUID and a WARP account ID", doc["device_id"], doc["gateway_account_id"])
			}
			// One user's device keeps its IDs; another user's differ.
			_, again := identityOf(t, srv, srv.Mint(accesstest.Token{Email: "ann@example.com", IdP: idp, WARP: true}))
			_, other := identityOf(t, srv, srv.Mint(accesstest.Token{Email: "bob@example.com", IdP: idp, WARP: true}))
			if str(again["device_id"]) != device || str(again["gateway_account_id"]) != gateway ||
				str(other["device_id"]) == device || str(other["gateway_account_id"]) == gateway {
				t.Errorf("device and gateway IDs not stable per user: %s %s, %s %s, %s %s", device, gateway,
					again["device_id"], again["gateway_account_id"], other["device_id"], other["gateway_account_id"])
			}

			_, plain := identityOf(t, srv, srv.UserFrom(idp, "ann@example.com"))
			if string(plain["is_warp"]) != "false" || string(plain["is_gateway"]) != "false" || str(plain["device_id"]) != "" {
				t.Errorf("without WARP: is_warp %s is_gateway %s device_id %s, want false, false, \"\"", plain["is_warp"], plain["is_gateway"], plain["device_id"])
			}
			if v, ok := plain["gateway_account_id"]; ok {
				t.Errorf("without WARP: gateway_account_id %s, want absent", v)
			}
		})
	}
}
