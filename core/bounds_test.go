package core_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/testkit"
	"github.com/cfaccess/cfaccess/internal/testkit/rs256"
)

// The team domain's answers are read to at most 1 MiB each. These tests serve answers
// that never end, and valid documents padded past the bound, from a team domain that
// counts what it manages to write, to a verifier whose request timeout is a minute: only
// the bound can end such a read in time, and the server must have written little more
// than the bound when the verifier hangs up.

const (
	bodyBound = 1 << 20 // the bound the verifier reads to
	// socketBuffer is the size of the server's send buffer and the client's receive buffer,
	// so that what the kernel takes in beyond what the client reads is small and known:
	// loopback buffers otherwise grow to megabytes.
	socketBuffer = 64 << 10
	// writtenBound is far more than the bound plus what the two ends' socket buffers hold,
	// and far less than the 64 MiB an endless answer writes to a client without a bound.
	writtenBound = 8 << 20
)

// smallBuffers makes the send buffer of every connection l accepts small.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(socketBuffer)
	}
	return c, err
}

// countingTeam is a team domain double: its certs and get-identity endpoints are handlers
// of the test's, and it counts the bytes each answer managed to write.
type countingTeam struct {
	*httptest.Server
	key *rsa.PrivateKey
	aud string

	mu       sync.Mutex
	certs    http.HandlerFunc
	identity http.HandlerFunc
	answers  []*countedAnswer
}

// countedAnswer is one answer: the bytes written so far, and whether its handler has
// returned.
type countedAnswer struct {
	path    string
	written atomic.Int64
	done    chan struct{}
}

type countingWriter struct {
	http.ResponseWriter
	a *countedAnswer
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.a.written.Add(int64(n))
	return n, err
}

func newCountingTeam(t *testing.T) *countingTeam {
	t.Helper()
	ct := &countingTeam{key: rs256.Key(t, 0), aud: "app"}
	ct.certs = func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ct.certsDocument(0)) }
	ct.identity = func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(identityDocument(0)) }
	ct.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &countedAnswer{path: r.URL.Path, done: make(chan struct{})}
		defer close(a.done)
		ct.mu.Lock()
		ct.answers = append(ct.answers, a)
		h := map[string]http.HandlerFunc{"/cdn-cgi/access/certs": ct.certs, "/cdn-cgi/access/get-identity": ct.identity}[r.URL.Path]
		ct.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(countingWriter{w, a}, r)
	}))
	ct.Listener = smallBuffers{ct.Listener}
	ct.Start()
	t.Cleanup(ct.Close)
	return ct
}

// serve makes h the handler of path from now on.
func (ct *countingTeam) serve(path string, h http.HandlerFunc) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if strings.HasSuffix(path, "certs") {
		ct.certs = h
	} else {
		ct.identity = h
	}
}

// lastAnswer waits until the latest answer of path has been written, as far as the client let
// it, and returns how many bytes it wrote.
func (ct *countingTeam) lastAnswer(t *testing.T, path string) int64 {
	t.Helper()
	var last *countedAnswer
	ct.mu.Lock()
	for _, a := range ct.answers {
		if a.path == path {
			last = a
		}
	}
	ct.mu.Unlock()
	if last == nil {
		t.Fatalf("no answer of %s", path)
	}
	select {
	case <-last.done:
	case <-time.After(time.Minute):
		t.Fatalf("the answer of %s is still being written after a minute: %d bytes", path, last.written.Load())
	}
	return last.written.Load()
}

// certsDocument is the team's key set, padded with a member of pad bytes.
func (ct *countingTeam) certsDocument(pad int) []byte {
	doc := map[string]any{"keys": []any{rs256.JWK("k", &ct.key.PublicKey)}}
	return padded(doc, pad)
}

// identityDocument is a get-identity answer, padded with a member of pad bytes.
func identityDocument(pad int) []byte {
	return padded(map[string]any{"email": "ann@example.com", "groups": []string{"admins"}}, pad)
}

// padded encodes doc with a member "padding" that makes it pad bytes longer (none for 0;
// at least 13 otherwise).
func padded(doc map[string]any, pad int) []byte {
	b, _ := json.Marshal(doc)
	if pad == 0 {
		return b
	}
	const member = `,"padding":""`
	return append(b[:len(b)-1], []byte(member[:len(member)-1]+strings.Repeat("x", pad-len(member))+`"}`)...)
}

// paddedTo is doc padded so that it is exactly size bytes long.
func paddedTo(doc func(int) []byte, size int) []byte {
	return doc(size - len(doc(0)))
}

// endless answers 200 with the start of a JSON object and then one member that never ends,
// until the client goes away; past 64 MiB it gives up, so that a client without a bound
// fails the test rather than the machine.
func endless(start string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if _, err := w.Write([]byte(start + `"padding":"`)); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for range (64 << 20) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// token signs a new user token of the team with its key.
func (ct *countingTeam) token(t *testing.T) string {
	t.Helper()
	h := rs256.Segment(t, map[string]string{"alg": "RS256", "kid": "k"})
	p := rs256.Segment(t, map[string]any{"iss": ct.URL, "aud": ct.aud, "sub": "u", "email": "ann@example.com",
		"identity_nonce": rand.Text(), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	return rs256.Sign(t, ct.key, h, p)
}

// verifier is a verifier of the team whose calls only the body bound can cut short: a
// request timeout of a minute, and waits of a minute for the key fetch. Its client's receive
// buffers are small.
func (ct *countingTeam) verifier(t *testing.T) *core.Verifier {
	t.Helper()
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(socketBuffer)
		}
		return c, err
	}}
	t.Cleanup(transport.CloseIdleConnections)
	return testkit.NewVerifier(t, core.Config{
		TeamDomain:     ct.URL,
		Audiences:      []string{ct.aud},
		HTTPClient:     &http.Client{Transport: transport},
		RequestTimeout: time.Minute,
		Keys:           core.KeyConfig{StartupWait: time.Minute, FetchWait: time.Minute},
		Logger:         testkit.QuietLogger(),
	})
}

func TestCertsBodyBound(t *testing.T) {
	ct := newCountingTeam(t)
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		accepted bool
	}{
		{"a key set of exactly 1 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(paddedTo(ct.certsDocument, bodyBound)) }, true},
		{"a key set of 1 MiB and a byte", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(paddedTo(ct.certsDocument, bodyBound+1)) }, false},
		{"a key set padded to 3 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(paddedTo(ct.certsDocument, 3<<20)) }, false},
		{"a key set that never ends", endless(`{"keys":[],`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct.serve("certs", tc.handler)
			start := time.Now()
			v := ct.verifier(t) // NewVerifier waits for the first fetch to end
			_, err := v.Verify(context.Background(), ct.token(t))
			if tc.accepted {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonKeysUnavailable)
			if st := v.Stats(); st.KeyError == nil || !strings.Contains(st.KeyError.Error(), "larger than") {
				t.Errorf("KeyError = %v, want the body bound", st.KeyError)
			}
			ct.wantCutAtBound(t, "/cdn-cgi/access/certs", start)
		})
	}
}

// wantCutAtBound checks that the answer of path, refused at the body bound since start, was
// cut there: promptly, after the team domain wrote the bound and little more.
func (ct *countingTeam) wantCutAtBound(t *testing.T, path string, start time.Time) {
	t.Helper()
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("refused after %v: not at the bound", took)
	}
	written := ct.lastAnswer(t, path)
	t.Logf("the team domain wrote %d bytes", written)
	if written <= bodyBound || written > writtenBound {
		t.Errorf("the team domain wrote %d bytes, want the bound and little more", written)
	}
}

func TestIdentityBodyBound(t *testing.T) {
	ct := newCountingTeam(t)
	v := ct.verifier(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		handler  http.HandlerFunc
		accepted bool
	}{
		{"a document of exactly 1 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(paddedTo(identityDocument, bodyBound)) }, true},
		{"a document of 1 MiB and a byte", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(paddedTo(identityDocument, bodyBound+1)) }, false},
		{"a document padded to 3 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(paddedTo(identityDocument, 3<<20)) }, false},
		{"a document that never ends", endless(`{"email":"ann@example.com","groups":["admins"],`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct.serve("get-identity", tc.handler)
			start := time.Now()
			id, err := v.Identity(ctx, ct.token(t)) // a new token: no answer remembered
			if tc.accepted {
				if err != nil || id.Email != "ann@example.com" || len(id.Raw) != bodyBound {
					t.Fatalf("Identity = %v, %v", id, err)
				}
				return
			}
			testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
			if !strings.Contains(err.Error(), "larger than") {
				t.Errorf("error %v, want the body bound", err)
			}
			ct.wantCutAtBound(t, "/cdn-cgi/access/get-identity", start)
		})
	}
}
