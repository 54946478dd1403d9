package accesstest_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

type certsDoc struct {
	Keys       []map[string]string `json:"keys"`
	PublicCert *struct {
		KID  string `json:"kid"`
		Cert string `json:"cert"`
	} `json:"public_cert"`
	PublicCerts []struct {
		KID  string `json:"kid"`
		Cert string `json:"cert"`
	} `json:"public_certs"`
}

// certsOf fetches and decodes srv's certs document.
func certsOf(t *testing.T, srv *accesstest.Server) certsDoc {
	t.Helper()
	r := get(t, srv.URL+certsPath, "")
	if r.status != http.StatusOK {
		t.Fatalf("certs: status %d, want 200: %s", r.status, r.body)
	}
	var doc certsDoc
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("certs: %v: %s", err, r.body)
	}
	return doc
}

func jwkPublicKey(t *testing.T, k map[string]string) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.Strict().DecodeString(k["n"])
	if err != nil {
		t.Fatalf("kid %s: n is not unpadded base64url: %v", k["kid"], err)
	}
	e, err := base64.RawURLEncoding.Strict().DecodeString(k["e"])
	if err != nil {
		t.Fatalf("kid %s: e is not unpadded base64url: %v", k["kid"], err)
	}
	if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 {
		t.Fatalf("kid %s: n or e has leading zero bytes or is empty", k["kid"])
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

func certPublicKey(t *testing.T, kid, certPEM string) *rsa.PublicKey {
	t.Helper()
	block, rest := pem.Decode([]byte(certPEM))
	if block == nil {
		t.Fatalf("kid %s: cert is not PEM: %q", kid, certPEM)
	}
	if block.Type != "CERTIFICATE" {
		t.Fatalf("kid %s: PEM block type %q, want CERTIFICATE", kid, block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("kid %s: trailing data after the certificate: %q", kid, rest)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("kid %s: x509.ParseCertificate: %v", kid, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("kid %s: certificate key is %T, want *rsa.PublicKey", kid, cert.PublicKey)
	}
	return pub
}

// checkListing checks the certs document's order of kids: the published set want (in
// KeyIDs order, the current key first when published), with the key that signs new tokens
// neither first nor, when there is room, last, so that code taking either fails.
func checkListing(t *testing.T, listed, want []string, signer string) {
	t.Helper()
	if !slices.Equal(slices.Sorted(slices.Values(listed)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("certs document lists %q, want the keys %q", listed, want)
	}
	at := slices.Index(listed, signer)
	if at < 0 || len(listed) < 2 {
		return
	}
	if at == 0 || len(listed) >= 3 && at == len(listed)-1 {
		t.Errorf("certs document lists %q: the signing key %q at %d, want it neither first nor last", listed, signer, at)
	}
}

func TestCertsDocument(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, srv *accesstest.Server) (wantKIDs []string)
	}{
		{"a new server: the current and the previous key", func(t *testing.T, srv *accesstest.Server) []string {
			ids := srv.KeyIDs()
			if len(ids) != 2 || ids[0] != srv.CurrentKeyID() {
				t.Fatalf("KeyIDs() = %q, want two, current (%q) first", ids, srv.CurrentKeyID())
			}
			return ids
		}},
		{"after one rotation", func(t *testing.T, srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			k1 := srv.RotateKeys()
			return []string{k1, k0}
		}},
		{"after two rotations", func(t *testing.T, srv *accesstest.Server) []string {
			srv.RotateKeys()
			k1 := srv.KeyIDs()[0]
			k2 := srv.RotateKeys()
			return []string{k2, k1}
		}},
		{"after the previous key is removed", func(t *testing.T, srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			k1 := srv.RotateKeys()
			srv.RemoveKey(k0)
			return []string{k1}
		}},
		{"after the current key is removed", func(t *testing.T, srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			k1 := srv.RotateKeys()
			srv.RemoveKey(k1)
			return []string{k0}
		}},
		{"with every key removed", func(t *testing.T, srv *accesstest.Server) []string {
			for _, kid := range srv.KeyIDs() {
				srv.RemoveKey(kid)
			}
			return []string{}
		}},
		{"with the next key published", func(t *testing.T, srv *accesstest.Server) []string {
			ids := srv.KeyIDs()
			return append(ids, srv.PublishNextKey())
		}},
		{"after a rotation to the published next key", func(t *testing.T, srv *accesstest.Server) []string {
			k0 := srv.KeyIDs()[0]
			next := srv.PublishNextKey()
			if k := srv.RotateKeys(); k != next {
				t.Fatalf("RotateKeys() = %q, want the published next key %q", k, next)
			}
			return []string{next, k0}
		}},
		{"with the next key published and the previous one removed", func(t *testing.T, srv *accesstest.Server) []string {
			ids := srv.KeyIDs()
			next := srv.PublishNextKey()
			srv.RemoveKey(ids[1])
			return []string{ids[0], next}
		}},
		{"with the current key removed and the next one published", func(t *testing.T, srv *accesstest.Server) []string {
			ids := srv.KeyIDs()
			srv.RemoveKey(ids[0])
			return []string{ids[1], srv.PublishNextKey()}
		}},
		{"with the next key withdrawn", func(t *testing.T, srv *accesstest.Server) []string {
			ids := srv.KeyIDs()
			srv.RemoveKey(srv.PublishNextKey())
			return ids
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.NewTeam(t)
			want := tt.setup(t, srv)
			if got := srv.KeyIDs(); !slices.Equal(got, want) {
				t.Fatalf("KeyIDs() = %q, want %q", got, want)
			}
			r := get(t, srv.URL+certsPath, "")
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}

			var top map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &top); err != nil {
				t.Fatalf("not a JSON object: %v: %s", err, r.body)
			}
			wantTop := []string{"keys", "public_cert", "public_certs"}
			if len(want) == 0 {
				wantTop = []string{"keys", "public_certs"} // no current key, no public_cert
			}
			if got := sortedKeys(top); !slices.Equal(got, wantTop) {
				t.Errorf("top-level fields %q, want %q", got, wantTop)
			}
			if !bytes.HasPrefix(top["keys"], []byte("[")) || !bytes.HasPrefix(top["public_certs"], []byte("[")) {
				t.Errorf("keys and public_certs must be arrays (never null): %s", r.body)
			}

			var doc certsDoc
			if err := json.Unmarshal(r.body, &doc); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if len(doc.Keys) != len(want) || len(doc.PublicCerts) != len(want) {
				t.Fatalf("%d keys and %d public_certs, want %d of each", len(doc.Keys), len(doc.PublicCerts), len(want))
			}
			var listed []string
			for _, k := range doc.Keys {
				listed = append(listed, k["kid"])
			}
			checkListing(t, listed, want, srv.CurrentKeyID())
			// Two fetches of an unchanged set list it alike, as a cached document would.
			if again := get(t, srv.URL+certsPath, ""); !bytes.Equal(again.body, r.body) {
				t.Errorf("a second fetch answered differently:\n%s\n%s", r.body, again.body)
			}
			var seen []*rsa.PublicKey
			for i, k := range doc.Keys {
				if got := sortedKeys(k); !slices.Equal(got, []string{"alg", "e", "kid", "kty", "n", "use"}) {
					t.Errorf("key %d fields %q, want alg e kid kty n use", i, got)
				}
				if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" {
					t.Errorf("key %d: kty %q alg %q use %q, want RSA RS256 sig", i, k["kty"], k["alg"], k["use"])
				}
				pub := jwkPublicKey(t, k)
				if pub.E != 65537 || pub.N.BitLen() != 2048 {
					t.Errorf("key %d: e=%d, %d bits; want 65537, 2048", i, pub.E, pub.N.BitLen())
				}
				if !pub.Equal(srv.PublicKey(k["kid"])) {
					t.Errorf("key %d: JWK differs from srv.PublicKey(%q)", i, k["kid"])
				}
				for _, other := range seen {
					if pub.Equal(other) {
						t.Errorf("key %d repeats an earlier key", i)
					}
				}
				seen = append(seen, pub)

				pc := doc.PublicCerts[i]
				if pc.KID != listed[i] {
					t.Errorf("public_certs[%d].kid %q, want %q", i, pc.KID, listed[i])
				}
				if cp := certPublicKey(t, pc.KID, pc.Cert); !cp.Equal(pub) || !cp.Equal(srv.PublicKey(pc.KID)) {
					t.Errorf("public_certs[%d]: certificate key differs from the JWK or srv.PublicKey", i)
				}
			}
			if len(want) == 0 {
				if doc.PublicCert != nil {
					t.Errorf("public_cert = %+v with no key published", doc.PublicCert)
				}
				return
			}
			if doc.PublicCert == nil {
				t.Fatal("no public_cert")
			}
			at := slices.Index(listed, want[0])
			if doc.PublicCert.KID != want[0] || doc.PublicCert.Cert != doc.PublicCerts[at].Cert {
				t.Errorf("public_cert is kid %q, want the current key %q with its certificate", doc.PublicCert.KID, want[0])
			}
			if cp := certPublicKey(t, doc.PublicCert.KID, doc.PublicCert.Cert); !cp.Equal(srv.PublicKey(want[0])) {
				t.Errorf("public_cert key differs from srv.PublicKey(current)")
			}
		})
	}
}

// A verifier that takes the first key of the set rather than the one the token's kid names
// fails against this server, as it would against Cloudflare; with the next key published,
// one that takes the last key fails too.
func TestCertsFirstKeyIsNotTheSigningKey(t *testing.T) {
	srv := testkit.NewTeam(t)
	check := func(t *testing.T, lastToo bool) {
		doc := certsOf(t, srv)
		p := parseJWT(t, srv.User("ann@example.com"))
		if p.signedBy(jwkPublicKey(t, doc.Keys[0])) {
			t.Error("keys[0] verifies a new token: a take-the-first-key bug would pass")
		}
		if last := doc.Keys[len(doc.Keys)-1]; lastToo && p.signedBy(jwkPublicKey(t, last)) {
			t.Error("the last key verifies a new token: a take-the-last-key bug would pass")
		}
		verified := 0
		for _, k := range doc.Keys {
			if p.signedBy(jwkPublicKey(t, k)) && k["kid"] == p.header["kid"] {
				verified++
			}
		}
		if verified != 1 {
			t.Errorf("%d published keys verify a new token under its kid, want 1", verified)
		}
	}
	t.Run("two keys", func(t *testing.T) { check(t, false) })
	srv.PublishNextKey()
	t.Run("the next key published", func(t *testing.T) { check(t, true) })
}

// The order is drawn anew as the set changes: with three keys, both orders that keep the
// signing key in the middle turn up, so that nothing can come to rely on one.
func TestCertsOrderVaries(t *testing.T) {
	srv := testkit.NewTeam(t)
	seen := map[string]bool{}
	for i := 0; i < 20 && len(seen) < 2; i++ {
		srv.PublishNextKey()
		var listed []string
		for _, k := range certsOf(t, srv).Keys {
			listed = append(listed, k["kid"])
		}
		checkListing(t, listed, srv.KeyIDs(), srv.CurrentKeyID())
		if listed[0] == srv.KeyIDs()[1] {
			seen["previous first"] = true
		} else {
			seen["next first"] = true
		}
		srv.RemoveKey(srv.KeyIDs()[2])
	}
	if len(seen) != 2 {
		t.Errorf("twenty draws of the order of three keys all put %v", seen)
	}
}

func TestRotateAndRemoveKeys(t *testing.T) {
	srv := testkit.NewTeam(t)
	publishedKIDs := func(t *testing.T) []string {
		t.Helper()
		var kids []string
		for _, k := range certsOf(t, srv).Keys {
			kids = append(kids, k["kid"])
		}
		return kids
	}
	initial := srv.KeyIDs()
	if len(initial) != 2 || initial[0] == "" || initial[1] == "" || initial[0] != srv.CurrentKeyID() {
		t.Fatalf("a new server publishes %q, want two keys, the current one (%q) first", initial, srv.CurrentKeyID())
	}
	k0, kPrev := initial[0], initial[1]
	var k1, k2, k3, k4, k5, k6, k7, k8, k9 string

	steps := []struct {
		name   string
		do     func()
		want   func() []string // the published kids, in order
		signer func() string   // the kid that signs new tokens
	}{
		{"first rotation", func() { k1 = srv.RotateKeys() },
			func() []string { return []string{k1, k0} }, func() string { return k1 }},
		{"second rotation drops the original key", func() { k2 = srv.RotateKeys() },
			func() []string { return []string{k2, k1} }, func() string { return k2 }},
		{"removing an unknown kid changes nothing", func() { srv.RemoveKey("no-such-kid") },
			func() []string { return []string{k2, k1} }, func() string { return k2 }},
		{"removing the previous key", func() { srv.RemoveKey(k1) },
			func() []string { return []string{k2} }, func() string { return k2 }},
		{"removing a key twice changes nothing", func() { srv.RemoveKey(k1) },
			func() []string { return []string{k2} }, func() string { return k2 }},
		{"rotation after a removal", func() { k3 = srv.RotateKeys() },
			func() []string { return []string{k3, k2} }, func() string { return k3 }},
		{"removing the current key leaves it signing", func() { srv.RemoveKey(k3) },
			func() []string { return []string{k2} }, func() string { return k3 }},
		{"rotation does not bring a removed current key back", func() { k4 = srv.RotateKeys() },
			func() []string { return []string{k4} }, func() string { return k4 }},
		{"removing the last key", func() { srv.RemoveKey(k4) },
			func() []string { return []string{} }, func() string { return k4 }},
		{"rotation with no key published", func() { k5 = srv.RotateKeys() },
			func() []string { return []string{k5} }, func() string { return k5 }},
		{"publishing the next key does not sign with it", func() { k6 = srv.PublishNextKey() },
			func() []string { return []string{k5, k6} }, func() string { return k5 }},
		{"publishing again is the same key", func() {
			if k := srv.PublishNextKey(); k != k6 {
				t.Errorf("PublishNextKey() = %q, then %q", k6, k)
			}
		}, func() []string { return []string{k5, k6} }, func() string { return k5 }},
		{"rotation to the published next key", func() {
			if k := srv.RotateKeys(); k != k6 {
				t.Errorf("RotateKeys() = %q, want the published next key %q", k, k6)
			}
		}, func() []string { return []string{k6, k5} }, func() string { return k6 }},
		{"withdrawing the next key", func() { k7 = srv.PublishNextKey(); srv.RemoveKey(k7) },
			func() []string { return []string{k6, k5} }, func() string { return k6 }},
		{"rotation after a withdrawn next key makes a new one", func() { k8 = srv.RotateKeys() },
			func() []string { return []string{k8, k6} }, func() string { return k8 }},
		{"a pending next key stays through a rotation's removals", func() { k9 = srv.PublishNextKey(); srv.RemoveKey(k6) },
			func() []string { return []string{k8, k9} }, func() string { return k8 }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			want, signer := st.want(), st.signer()
			if got := srv.KeyIDs(); !slices.Equal(got, want) {
				t.Fatalf("KeyIDs() = %q, want %q", got, want)
			}
			checkListing(t, publishedKIDs(t), want, signer)
			if got := srv.CurrentKeyID(); got != signer {
				t.Errorf("CurrentKeyID() = %q, want %q", got, signer)
			}
			p := parseJWT(t, srv.User("ann@example.com"))
			if p.header["kid"] != signer || !p.signedBy(srv.PublicKey(signer)) {
				t.Fatalf("new tokens carry kid %v, want %q and its signature", p.header["kid"], signer)
			}
		})
	}
	all := []string{kPrev, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9}
	t.Run("distinct kids", func(t *testing.T) {
		if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
			t.Fatalf("kids repeat: %q", all)
		}
	})
	t.Run("PublicKey knows every key the server ever had", func(t *testing.T) {
		for i, kid := range all {
			pub := srv.PublicKey(kid)
			if pub == nil {
				t.Fatalf("PublicKey(%q) = nil", kid)
			}
			for _, earlier := range all[:i] {
				if pub.Equal(srv.PublicKey(earlier)) {
					t.Errorf("rotation reused a key: %q and %q", earlier, kid)
				}
			}
		}
		if srv.PublicKey("no-such-kid") != nil || srv.PublicKey("") != nil {
			t.Error("PublicKey of an unknown kid is not nil")
		}
	})
	t.Run("KeyIDs returns a copy", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		ids := srv.KeyIDs()
		want := ids[0]
		ids[0] = "tampered"
		if got := srv.KeyIDs()[0]; got != want {
			t.Fatalf("KeyIDs()[0] = %q after modifying a returned slice, want %q", got, want)
		}
	})
}

// With no key published, the server still mints (RemoveKey: "Tokens can still be minted with
// it"), with the removed current key unless told otherwise, and a rotation publishes again.
func TestEveryKeyRemoved(t *testing.T) {
	tests := []struct {
		name string
		// op runs on a server whose only key k0 was removed; it returns a token and the kid
		// that must have signed it.
		op func(t *testing.T, srv *accesstest.Server, k0 string) (token, signer string)
	}{
		{"Mint with KeyID of the removed key", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", KeyID: k0}), k0
		}},
		{"User", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.User("ann@example.com"), k0
		}},
		{"ServiceToken", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.ServiceToken(""), k0
		}},
		{"SignRaw", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			return srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+k0+`"}`), []byte(`{}`)), k0
		}},
		{"RotateKeys then User", func(t *testing.T, srv *accesstest.Server, k0 string) (string, string) {
			k1 := srv.RotateKeys()
			if got := srv.KeyIDs(); !slices.Equal(got, []string{k1}) {
				t.Errorf("KeyIDs() after rotating an empty set = %q, want [%q]", got, k1)
			}
			return srv.User("ann@example.com"), k1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.NewTeam(t)
			k0 := srv.KeyIDs()[0]
			srv.RemoveKey(k0)

			// In a goroutine of its own, so that a panic or a lock left held fails the test
			// instead of ending or hanging the run.
			var token, signer string
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				token, signer = tt.op(t, srv, k0)
			}()
			select {
			case p := <-done:
				if p != nil {
					t.Fatalf("panicked: %v", p)
				}
			case <-time.After(testkit.Patience):
				t.Fatal("blocked")
			}
			p := parseJWT(t, token)
			if p.header["kid"] != signer || !p.signedBy(srv.PublicKey(signer)) {
				t.Fatalf("token carries kid %v, want %q and its signature", p.header["kid"], signer)
			}
			// The server still answers (no lock left held).
			if r := get(t, srv.URL+certsPath, ""); r.status != http.StatusOK {
				t.Fatalf("certs: status %d", r.status)
			}
		})
	}
}

func TestRequestCounters(t *testing.T) {
	srv := testkit.NewTeam(t)
	token := srv.User("ann@example.com")
	steps := []struct {
		name                 string
		do                   func(t *testing.T)
		wantCerts, wantIdent int
	}{
		{"a new server", func(*testing.T) {}, 0, 0},
		{"three certs requests", func(t *testing.T) {
			for range 3 {
				get(t, srv.URL+certsPath, "")
			}
		}, 3, 0},
		{"identity requests, refused ones too", func(t *testing.T) {
			get(t, srv.URL+identityPath, cookieFor(token))
			get(t, srv.URL+identityPath, "")
			get(t, srv.URL+identityPath, cookieFor("garbage"))
		}, 3, 3},
		{"other paths and methods are not counted", func(t *testing.T) {
			for _, p := range []string{"/", "/cdn-cgi/access/logout", certsPath + "/x", identityPath + "x"} {
				if r := get(t, srv.URL+p, ""); r.status != http.StatusNotFound {
					t.Errorf("GET %s: status %d, want 404", p, r.status)
				}
			}
			for _, p := range []string{certsPath, identityPath} {
				resp, err := newClient(t).Post(srv.URL+p, "application/json", strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("POST %s: status %d, want 405", p, resp.StatusCode)
				}
			}
		}, 3, 3},
		{"faulted requests are counted", func(t *testing.T) {
			srv.FailCerts(accesstest.Status500)
			srv.FailIdentity(accesstest.Status404)
			defer srv.FailCerts(accesstest.Healthy)
			defer srv.FailIdentity(accesstest.Healthy)
			get(t, srv.URL+certsPath, "")
			get(t, srv.URL+identityPath, cookieFor(token))
		}, 4, 4},
		{"a followed redirect counts twice", func(t *testing.T) {
			srv.FailCerts(accesstest.RedirectAway)
			defer srv.FailCerts(accesstest.Healthy)
			if r := get(t, srv.URL+certsPath, ""); r.status != http.StatusOK {
				t.Errorf("status %d after the redirect, want 200", r.status)
			}
		}, 6, 4},
		{"concurrent requests", func(t *testing.T) {
			c := newClient(t)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					path, cookie := certsPath, ""
					if i%2 == 1 {
						path, cookie = identityPath, cookieFor(token)
					}
					resp, err := do(context.Background(), c, srv.URL+path, cookie)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				})
			}
			wg.Wait()
		}, 26, 24},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			if got := srv.CertsRequests(); got != st.wantCerts {
				t.Errorf("CertsRequests() = %d, want %d", got, st.wantCerts)
			}
			if got := srv.IdentityRequests(); got != st.wantIdent {
				t.Errorf("IdentityRequests() = %d, want %d", got, st.wantIdent)
			}
		})
	}
}

// Close ends the requests that a fault keeps waiting, rather than waiting for them.
func TestCloseReleasesHeldRequests(t *testing.T) {
	for _, ep := range endpoints {
		for _, f := range []struct {
			name  string
			fault accesstest.Fault
		}{{"Hang", accesstest.Hang}, {"SlowDrip", accesstest.SlowDrip}, {"Held", accesstest.Held}} {
			t.Run(ep.name+"/"+f.name, func(t *testing.T) {
				srv := testkit.NewTeam(t)
				cookie := cookieFor(srv.User("ann@example.com"))
				ep.fail(srv, f.fault)
				p := send(t, srv.URL+ep.path, cookie)
				testkit.Eventually(t, "the request to arrive", func() bool { return ep.count(srv) == 1 })

				closed := make(chan struct{})
				go func() { srv.Close(); close(closed) }()
				select {
				case <-closed:
				case <-time.After(testkit.Patience):
					t.Fatal("Close did not return while a request was held")
				}
				p.wait(t, "the held request after Close")
				// The server is gone.
				if resp, err := do(context.Background(), newClient(t), srv.URL+certsPath, ""); err == nil {
					resp.Body.Close()
					t.Errorf("a request after Close got status %d", resp.StatusCode)
				}
			})
		}
	}
}

// verifierConfig is srv.Config() for a verifier that waits for the key set however long a
// loaded machine takes to fetch it, rather than answer 503 after the production default.
func verifierConfig(srv *accesstest.Server) core.Config {
	cfg := srv.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Keys.StartupWait = testkit.Patience
	cfg.Keys.FetchWait = testkit.Patience
	return cfg
}

func TestConfigVerifies(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := srv.Config()
	if cfg.TeamDomain != srv.URL || !slices.Equal(cfg.Audiences, []string{srv.AUD}) {
		t.Fatalf("Config() = %+v, want TeamDomain %q and Audiences [%q]", cfg, srv.URL, srv.AUD)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("srv.Config().Validate(): %v", err)
	}
	v, err := core.NewVerifier(verifierConfig(srv))
	if err != nil {
		t.Fatalf("NewVerifier(srv.Config()): %v", err)
	}
	testkit.Eventually(t, "the verifier to fetch the key set", func() bool { return srv.CertsRequests() >= 1 })
	if n := srv.CertsRequests(); n != 1 {
		t.Errorf("CertsRequests() = %d after NewVerifier, want 1", n)
	}
	other := testkit.NewTeam(t)
	ctx := context.Background()

	tests := []struct {
		name    string
		token   func() string
		wantErr error
		check   func(t *testing.T, c *core.Claims)
	}{
		{"user", func() string { return srv.User("ann@example.com", "admins") }, nil, func(t *testing.T, c *core.Claims) {
			if c.Email != "ann@example.com" || c.Issuer != srv.URL || !slices.Equal(c.Audience, []string{srv.AUD}) ||
				c.Type != "app" || c.IdentityNonce == "" || !uuidShape.MatchString(c.Subject) || c.IsServiceToken() {
				t.Errorf("claims %+v", c)
			}
			if d := c.ExpiresAt.Sub(c.IssuedAt); d != accesstest.UserTokenLifetime {
				t.Errorf("valid for %v after iat, want the session's %v", d, accesstest.UserTokenLifetime)
			}
		}},
		{"user with country and custom", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", Country: "DE", Custom: map[string]any{"k": "v"}})
		}, nil, func(t *testing.T, c *core.Claims) {
			if c.Country != "DE" || string(c.Custom) != `{"k":"v"}` {
				t.Errorf("country %q custom %s", c.Country, c.Custom)
			}
		}},
		{"service token", func() string { return srv.ServiceToken("") }, nil, func(t *testing.T, c *core.Claims) {
			if !c.IsServiceToken() || !clientIDShape.MatchString(c.CommonName) || c.Email != "" {
				t.Errorf("claims %+v, want a service token", c)
			}
			if !slices.Equal(c.Audience, []string{srv.AUD}) || c.Type != "" || !c.NotBefore.IsZero() {
				t.Errorf("aud %q type %q nbf %v, want the bare-string aud, no type, no nbf", c.Audience, c.Type, c.NotBefore)
			}
		}},
		{"service token of the reference's sample shape", func() string {
			return srv.Mint(accesstest.Token{CommonName: "c.access", Type: "app", Claims: map[string]any{"aud": []string{srv.AUD}}})
		}, nil, func(t *testing.T, c *core.Claims) {
			if !c.IsServiceToken() || c.Type != "app" {
				t.Errorf("claims %+v, want a service token of type app", c)
			}
		}},
		{"token of another team", func() string { return other.User("ann@example.com") }, core.ErrInvalidToken, nil},
		{"token of another application", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"other-app"}})
		}, core.ErrInvalidToken, nil},
		{"token of another issuer", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", Issuer: other.URL})
		}, core.ErrInvalidToken, nil},
		{"expired token", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
		}, core.ErrInvalidToken, nil},
		{"token of a session a day old", func() string {
			return srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-accesstest.UserTokenLifetime - time.Hour)})
		}, core.ErrInvalidToken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(ctx, tt.token())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.check(t, c)
		})
	}

	t.Run("rotation as Cloudflare does it", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		cfg := verifierConfig(srv)
		cfg.Keys.UnknownKeyCooldown = time.Nanosecond
		cfg.Tokens.CacheSize = core.None
		v, err := core.NewVerifier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		old := srv.User("ann@example.com")
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatalf("before rotation: %v", err)
		}
		srv.RotateKeys()
		if _, err := v.Verify(ctx, srv.User("ann@example.com")); err != nil {
			t.Fatalf("token of the new key: %v", err)
		}
		if _, err := v.Verify(ctx, old); err != nil {
			t.Fatalf("token of the previous key after rotation: %v", err)
		}
	})

	t.Run("a next key published ahead is known before it signs", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		next := srv.PublishNextKey()
		cfg := verifierConfig(srv)
		cfg.Keys.UnknownKeyCooldown = time.Hour // no second fetch: the first must have had the key
		v, err := core.NewVerifier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, srv.User("ann@example.com")); err != nil {
			t.Fatalf("before rotation: %v", err)
		}
		if !slices.Contains(v.Stats().KeyIDs, next) {
			t.Fatalf("the verifier's keys %q lack the published next key %q", v.Stats().KeyIDs, next)
		}
		srv.RotateKeys()
		if _, err := v.Verify(ctx, srv.User("bob@example.com")); err != nil {
			t.Fatalf("the first token of the new key: %v", err)
		}
		if n := srv.CertsRequests(); n != 1 {
			t.Errorf("certs fetched %d times, want once", n)
		}
	})
}
