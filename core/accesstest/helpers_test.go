package accesstest_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
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

const (
	certsPath    = "/cdn-cgi/access/certs"
	identityPath = "/cdn-cgi/access/get-identity"
)

var (
	uuidShape     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	hex32Shape    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	clientIDShape = regexp.MustCompile(`^[0-9a-f]{32}\.access$`)
)

// newClient is a client of the test's own, so that no connection outlives the test.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testkit.Patience}
}

// response is what a request got: an answer, or err.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func cookieFor(token string) string { return core.CookieName + "=" + token }

// get fetches url with the Cookie header set to cookie (none when empty) and reads the body.
func get(t *testing.T, url, cookie string) response {
	t.Helper()
	resp, err := do(context.Background(), newClient(t), url, cookie)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return response{resp.StatusCode, resp.Header, body, nil}
}

func do(ctx context.Context, c *http.Client, url, cookie string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return c.Do(req)
}

// endpoint is one endpoint of the fake team domain, with the methods that make it fail and
// count its requests.
type endpoint struct {
	name  string
	path  string
	fail  func(*accesstest.Server, accesstest.Fault)
	count func(*accesstest.Server) int
}

var endpoints = []endpoint{
	{"certs", certsPath, (*accesstest.Server).FailCerts, (*accesstest.Server).CertsRequests},
	{"get-identity", identityPath, (*accesstest.Server).FailIdentity, (*accesstest.Server).IdentityRequests},
}

// other is the endpoint that is not e.
func (e endpoint) other() endpoint {
	if e.path == endpoints[0].path {
		return endpoints[1]
	}
	return endpoints[0]
}

// pending is a request sent in the background, to an endpoint that may not answer until told.
type pending struct {
	cancel context.CancelFunc // gives up, as a client whose deadline passed
	done   chan response
}

// send starts a GET of url in the background; the request is given up at the end of the test
// if it is still waiting then.
func send(t *testing.T, url, cookie string) *pending {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := newClient(t)
	c.Timeout = 0 // ctx decides
	p := &pending{cancel: cancel, done: make(chan response, 1)}
	go func() {
		resp, err := do(ctx, c, url, cookie)
		if err != nil {
			p.done <- response{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		p.done <- response{resp.StatusCode, resp.Header, body, err}
	}()
	return p
}

// wait returns how p ended, failing the test if it has not ended after testkit.Patience.
func (p *pending) wait(t *testing.T, what string) response {
	t.Helper()
	select {
	case r := <-p.done:
		return r
	case <-time.After(testkit.Patience):
		t.Fatalf("%s: no end after %v", what, testkit.Patience)
		return response{}
	}
}

// answered reports how p ended, if it has.
func (p *pending) answered() (response, bool) {
	select {
	case r := <-p.done:
		return r, true
	default:
		return response{}, false
	}
}

// jwtParts is a compact token taken apart, without any verification.
type jwtParts struct {
	header       map[string]any
	claims       map[string]any
	rawClaims    map[string]json.RawMessage
	signingInput string
	payload      string // the payload segment
	sig          []byte
}

func parseJWT(t *testing.T, token string) jwtParts {
	t.Helper()
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		t.Fatalf("token has %d segments, want 3: %q", len(segs), token)
	}
	var p jwtParts
	for i, dst := range []any{&p.header, &p.claims, &p.rawClaims} {
		seg := segs[min(i, 1)]
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err != nil {
			t.Fatalf("segment %d is not unpadded base64url: %v", min(i, 1), err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("segment %d is not a JSON object: %v: %s", min(i, 1), err, b)
		}
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(segs[2])
	if err != nil {
		t.Fatalf("signature is not unpadded base64url: %v", err)
	}
	p.signingInput = segs[0] + "." + segs[1]
	p.payload = segs[1]
	p.sig = sig
	return p
}

// signedBy reports whether pub verifies the token's RS256 signature.
func (p jwtParts) signedBy(pub *rsa.PublicKey) bool {
	if pub == nil {
		return false
	}
	digest := sha256.Sum256([]byte(p.signingInput))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.sig) == nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}
