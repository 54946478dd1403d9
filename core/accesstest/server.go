package accesstest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cfaccess/cfaccess/core"
)

// Server is a fake Cloudflare Access team domain listening on loopback. It publishes a real
// key set at /cdn-cgi/access/certs, answers /cdn-cgi/access/get-identity for the tokens it
// minted, and signs real RS256 tokens. All methods are safe for concurrent use.
type Server struct {
	// URL is the team domain, "http://127.0.0.1:<port>" (or WithOrigin's origin): the
	// TeamDomain to configure and the iss of every token minted here.
	URL string
	// AUD is the application audience tag minted tokens carry unless told otherwise.
	AUD string

	srv     *httptest.Server // nil with WithOrigin: the caller serves
	mux     http.Handler
	origin  string // WithOrigin's
	closing chan struct{}
	once    sync.Once

	idp          IdP // of users minted without Token.IdP; "" is GoogleWorkspace
	customBudget int // WithCustomBudget's, resolved: bytes of the custom claim's JSON; < 0: no trimming

	mu         sync.Mutex
	current    *signingKey             // signs new tokens, published or not
	published  []*signingKey           // the keys that have signed and are published: current first, then the previous one
	next       *signingKey             // published ahead of signing (PublishNextKey); nil: none
	listing    []*signingKey           // the certs document's order, drawn anew at each change of the set
	all        map[string]*signingKey  // every key this server ever had, by kid
	identities map[string]identityInfo // by identity_nonce
	faults     [2]Fault                // by endpoint
	held       [2]*hold                // the current spell of Held, by endpoint

	requests [2]atomic.Int64 // by endpoint
}

type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
	cert string // PEM, self-signed, as Cloudflare's public_cert
}

type endpoint int

const (
	certsEndpoint endpoint = iota
	identityEndpoint
)

// Option configures NewServer.
type Option interface{ apply(*Server) }

type optionFunc func(*Server)

func (f optionFunc) apply(s *Server) { f(s) }

// WithIdP makes idp the identity provider of the users minted without Token.IdP, by User
// and Mint, so that a whole test runs against one provider's shape. The default is
// GoogleWorkspace. An IdP not listed in IdPs gets GoogleWorkspace's shape under its own
// idp.type.
func WithIdP(idp IdP) Option { return optionFunc(func(s *Server) { s.idp = idp }) }

// DefaultCustomBudget is the size, in bytes of JSON, past which the server trims a token's
// custom claim unless WithCustomBudget says otherwise.
//
// Cloudflare documents (cloudflare-docs PR #31700, "Clarify JWT group claims dropped near
// 4 KB cookie limit") that custom SAML attributes and OIDC claims are best-effort: when the
// serialized custom block exceeds an internal size budget, Access trims the configured
// attributes from the end of the list, per user, to keep the token within the browsers'
// 4 KB cookie limit. It does not publish the budget. 2 KiB is this package's choice: about
// the most a custom block can hold in a 4 KB cookie once base64 and the signature (a third
// more, and 342 characters) and the other claims are counted, so that a token minted here
// fits in the cookie Access would set.
const DefaultCustomBudget = 2 << 10

// WithCustomBudget sets the size, in bytes of the custom claim's JSON, past which minted
// tokens lose custom attributes from the end of their list (see Token.CustomOrder) until
// the rest fits, as Access trims them: 0 is DefaultCustomBudget, and a negative n (such as
// core.None) turns trimming off. get-identity reports the full attributes whatever the
// budget.
func WithCustomBudget(n int) Option {
	return optionFunc(func(s *Server) { s.customBudget = n })
}

// WithOrigin makes the server a handler for the caller to mount, instead of a listener of
// its own: origin, such as "http://127.0.0.1:8787", becomes URL, the team domain and the iss
// of minted tokens, and the caller serves the Server, an http.Handler, for the
// /cdn-cgi/access/ paths of that origin. It lets one port answer as the team domain and as
// something else, such as an application or a proxy in front of one, as Access answers on an
// application's own host. origin is used as given: spell it as the code under test spells
// its team domain (see core.ParseTeamDomain).
func WithOrigin(origin string) Option {
	return optionFunc(func(s *Server) { s.origin = origin })
}

// NewServer starts a fake team domain on a loopback port of its own (WithOrigin: on the
// caller's). Like Access, it publishes two signing keys: the current one, which signs new
// tokens, and the previous one, still valid for the tokens it signed, in no fixed order
// (see KeyIDs). Close the server when done, for instance with t.Cleanup(srv.Close). Like
// httptest.NewServer, it panics if it cannot listen.
func NewServer(opts ...Option) *Server {
	s := &Server{
		AUD:        randomHex(32),
		closing:    make(chan struct{}),
		all:        make(map[string]*signingKey),
		identities: make(map[string]identityInfo),
	}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	if s.customBudget == 0 {
		s.customBudget = DefaultCustomBudget
	}
	var previous *signingKey
	generated := make(chan struct{})
	go func() { // two RSA keys cost a tenth of a second each: make them side by side
		defer close(generated)
		previous = s.newKey()
	}()
	s.current = s.newKey()
	<-generated
	s.published = []*signingKey{s.current, previous}
	s.relist()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cdn-cgi/access/certs", s.serveCerts)
	mux.HandleFunc("GET /cdn-cgi/access/get-identity", s.serveIdentity)
	s.mux = mux
	if s.origin != "" {
		s.URL = s.origin
		return s
	}
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// ServeHTTP answers as the team domain: the key set at /cdn-cgi/access/certs and
// get-identity at /cdn-cgi/access/get-identity, 404 for anything else. A server started
// WithOrigin is reached only through it; one with a listener of its own serves the same.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the server. Requests held by the Hang or SlowDrip faults are released first.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	if s.srv != nil {
		s.srv.Close()
	}
}

// Config returns a core.Config for this team domain and s.AUD, ready for core.NewVerifier.
func (s *Server) Config() core.Config {
	return core.Config{TeamDomain: s.URL, Audiences: []string{s.AUD}}
}

// CertsRequests returns how many times the key set has been requested.
func (s *Server) CertsRequests() int { return int(s.requests[certsEndpoint].Load()) }

// IdentityRequests returns how many times get-identity has been requested.
func (s *Server) IdentityRequests() int { return int(s.requests[identityEndpoint].Load()) }

// PublishNextKey publishes the key that the next RotateKeys makes current, without signing
// with it yet, as Access publishes a new key ahead of using it: a verifier that fetches the
// key set in between knows the key before the first token it signs arrives. It returns the
// key's kid; while one is pending, it returns that one again.
func (s *Server) PublishNextKey() string {
	s.mu.Lock()
	if s.next != nil {
		defer s.mu.Unlock()
		return s.next.kid
	}
	s.mu.Unlock()
	k := s.newKey() // outside the lock: it takes a tenth of a second
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil { // else another call published one meanwhile: keep that one
		s.next = k
		s.relist()
	}
	return s.next.kid
}

// RotateKeys does what Cloudflare does every six weeks by default (or when told to rotate
// now): a new key becomes current and signs new tokens, the previous current key stays
// published (tokens it signed still verify; Access keeps it valid for 7 days after a manual
// rotation), and any older key leaves the set. The new key is the one PublishNextKey
// published, if any; otherwise one published at this very moment, as in a manual rotation,
// which a verifier learns when a token first names it. It returns the new key ID.
func (s *Server) RotateKeys() string {
	s.mu.Lock()
	if s.next == nil {
		s.mu.Unlock()
		k := s.newKey() // outside the lock: it takes a tenth of a second
		s.mu.Lock()
		if s.next == nil { // else PublishNextKey published one meanwhile: that one is next
			s.next = k
		}
	}
	defer s.mu.Unlock()
	k := s.next
	s.next = nil
	next := []*signingKey{k}
	if slices.Contains(s.published, s.current) { // unless it was removed, the old current key stays
		next = append(next, s.current)
	}
	s.current, s.published = k, next
	s.relist()
	return k.kid
}

// RemoveKey takes kid out of the published set, as when Cloudflare withdraws a key. Tokens
// can still be minted with it, to check that they no longer verify. Removing the key that
// PublishNextKey published withdraws it: the next RotateKeys makes a new one.
func (s *Server) RemoveKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.published)
	s.published = slices.DeleteFunc(s.published, func(k *signingKey) bool { return k.kid == kid })
	changed := len(s.published) != n
	if s.next != nil && s.next.kid == kid {
		s.next, changed = nil, true
	}
	if changed {
		s.relist()
	}
}

// CurrentKeyID returns the kid of the key that signs new tokens. It is normally the first of
// KeyIDs, unless RemoveKey took it out of the published set.
func (s *Server) CurrentKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.kid
}

// KeyIDs returns the kids of the published set: the current key first, then the previous
// one, then the key PublishNextKey published, if one is pending.
//
// The certs document lists the same keys in no fixed order, as Cloudflare's promises none:
// the order is drawn at random whenever the set changes (and stays put in between, as a
// cached document would), except that the key which signs new tokens is never listed
// first while another key is published, nor last while two others are. Code that takes
// the first or the last key, instead of the one its token's kid names, then fails its tests
// every run, as it would fail in production on some days.
func (s *Server) KeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.published)+1)
	for _, k := range s.published {
		out = append(out, k.kid)
	}
	if s.next != nil {
		out = append(out, s.next.kid)
	}
	return out
}

// relist draws the certs document's order of the published keys; s.mu is held. The current
// key, when published, goes anywhere but first, and anywhere but last too when there is room.
func (s *Server) relist() {
	var others []*signingKey
	for _, k := range s.published {
		if k != s.current {
			others = append(others, k)
		}
	}
	if s.next != nil {
		others = append(others, s.next)
	}
	mrand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	if !slices.Contains(s.published, s.current) {
		s.listing = others
		return
	}
	at := len(others) // alone, or with one other key: last
	if len(others) >= 2 {
		at = 1 + mrand.IntN(len(others)-1) // strictly between the first and the last
	}
	s.listing = slices.Insert(others, at, s.current)
}

// PublicKey returns the public half of any key this server has had, or nil.
func (s *Server) PublicKey(kid string) *rsa.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.all[kid]; k != nil {
		return &k.priv.PublicKey
	}
	return nil
}

func (s *Server) newKey() *signingKey {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("accesstest: generating an RSA key: " + err.Error())
	}
	k := &signingKey{kid: randomHex(32), priv: priv, cert: selfSigned(priv)}
	s.mu.Lock()
	s.all[k.kid] = k
	s.mu.Unlock()
	return k
}

func selfSigned(priv *rsa.PrivateKey) string {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "accesstest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		panic("accesstest: creating a certificate: " + err.Error())
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// certsDocument is the key set in Cloudflare's shape (the sample of its "Validate JWTs"
// page): JWKs under "keys", and the same keys, in the same order, as PEM certificates under
// "public_certs"; the current key again under "public_cert" (the newest key that has signed,
// if the current one was removed; none if no such key is published).
func (s *Server) certsDocument() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	type jwk struct {
		KID string `json:"kid"`
		KTY string `json:"kty"`
		ALG string `json:"alg"`
		USE string `json:"use"`
		E   string `json:"e"`
		N   string `json:"n"`
	}
	type cert struct {
		KID  string `json:"kid"`
		Cert string `json:"cert"`
	}
	doc := struct {
		Keys        []jwk  `json:"keys"`
		PublicCert  *cert  `json:"public_cert,omitempty"`
		PublicCerts []cert `json:"public_certs"`
	}{Keys: []jwk{}, PublicCerts: []cert{}}
	for _, k := range s.listing {
		pub := k.priv.PublicKey
		doc.Keys = append(doc.Keys, jwk{
			KID: k.kid, KTY: "RSA", ALG: "RS256", USE: "sig",
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		})
		doc.PublicCerts = append(doc.PublicCerts, cert{KID: k.kid, Cert: k.cert})
	}
	if len(s.published) > 0 {
		i := slices.Index(s.listing, s.published[0])
		doc.PublicCert = &doc.PublicCerts[i]
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("accesstest: encoding the key set: " + err.Error())
	}
	return b
}

func (s *Server) serveCerts(w http.ResponseWriter, r *http.Request) {
	s.requests[certsEndpoint].Add(1)
	s.serve(w, r, certsEndpoint, http.StatusOK, s.certsDocument())
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprint("accesstest: reading random bytes: ", err))
	}
	return hex.EncodeToString(b)
}
