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
	// URL is the team domain, "http://127.0.0.1:<port>": the TeamDomain to configure and the
	// iss of every token minted here.
	URL string
	// AUD is the application audience tag minted tokens carry unless told otherwise.
	AUD string

	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	idp IdP // of users minted without Token.IdP; "" is GoogleWorkspace

	mu         sync.Mutex
	current    *signingKey             // signs new tokens, published or not
	published  []*signingKey           // the key set, current first (served the other way round)
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

// NewServer starts a fake team domain. Like Access, it publishes two signing keys: the
// current one, which signs new tokens, and the previous one, still valid for the tokens it
// signed; Cloudflare lists the current key last (see KeyIDs). Close the server when done,
// for instance with t.Cleanup(srv.Close). Like httptest.NewServer, it panics if it cannot
// listen.
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
	var previous *signingKey
	generated := make(chan struct{})
	go func() { // two RSA keys cost a tenth of a second each: make them side by side
		defer close(generated)
		previous = s.newKey()
	}()
	s.current = s.newKey()
	<-generated
	s.published = []*signingKey{s.current, previous}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cdn-cgi/access/certs", s.serveCerts)
	mux.HandleFunc("GET /cdn-cgi/access/get-identity", s.serveIdentity)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server. Requests held by the Hang or SlowDrip faults are released first.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Config returns a core.Config for this team domain and s.AUD, ready for core.NewVerifier.
func (s *Server) Config() core.Config {
	return core.Config{TeamDomain: s.URL, Audiences: []string{s.AUD}}
}

// CertsRequests returns how many times the key set has been requested.
func (s *Server) CertsRequests() int { return int(s.requests[certsEndpoint].Load()) }

// IdentityRequests returns how many times get-identity has been requested.
func (s *Server) IdentityRequests() int { return int(s.requests[identityEndpoint].Load()) }

// RotateKeys does what Cloudflare does every few weeks: a new key becomes current and signs
// new tokens, the previous current key stays published (tokens it signed still verify), and
// any older key leaves the set. It returns the new key ID.
func (s *Server) RotateKeys() string {
	k := s.newKey()
	s.mu.Lock()
	defer s.mu.Unlock()
	next := []*signingKey{k}
	if slices.Contains(s.published, s.current) { // unless it was removed, the old current key stays
		next = append(next, s.current)
	}
	s.current, s.published = k, next
	return k.kid
}

// RemoveKey takes kid out of the published set, as when Cloudflare withdraws a key. Tokens
// can still be minted with it, to check that they no longer verify.
func (s *Server) RemoveKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = slices.DeleteFunc(s.published, func(k *signingKey) bool { return k.kid == kid })
}

// CurrentKeyID returns the kid of the key that signs new tokens. It is normally the first of
// KeyIDs (and the last of the certs document), unless RemoveKey took it out of the published
// set.
func (s *Server) CurrentKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.kid
}

// KeyIDs returns the kids of the published set, current first. The certs document lists
// them the other way round, as Cloudflare's does: the current key, which is also
// public_cert, comes last, so that code which takes the first key instead of the one its
// token's kid names fails its tests as it would fail in production.
func (s *Server) KeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.published))
	for i, k := range s.published {
		out[i] = k.kid
	}
	return out
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
// page): JWKs under "keys", and the same keys as PEM certificates under "public_certs",
// the previous key first and the current one last, and the current one again under
// "public_cert".
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
	for _, k := range slices.Backward(s.published) {
		pub := k.priv.PublicKey
		doc.Keys = append(doc.Keys, jwk{
			KID: k.kid, KTY: "RSA", ALG: "RS256", USE: "sig",
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		})
		doc.PublicCerts = append(doc.PublicCerts, cert{KID: k.kid, Cert: k.cert})
	}
	if n := len(doc.PublicCerts); n > 0 {
		doc.PublicCert = &doc.PublicCerts[n-1]
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
