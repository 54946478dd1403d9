package devproxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/devproxy"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

const aud = "dev-test-app"

var quiet = slog.New(slog.DiscardHandler)

// seen is what the test application reports about a request, having verified its token
// against the proxy as any application would.
type seen struct {
	Email       string   `json:"email"`
	CommonName  string   `json:"common_name"`
	Groups      []string `json:"groups"`
	IdP         string   `json:"idp"`
	Error       string   `json:"error"`
	Header      bool     `json:"header"`
	CookieMatch bool     `json:"cookie_match"` // the CF_Authorization cookie is the header's token
	EmailHeader string   `json:"email_header"`
	Cookies     []string `json:"cookies"` // every cookie, as name=value
	Host        string   `json:"host"`
	Path        string   `json:"path"`
}

type fixture struct {
	origin string
	proxy  *devproxy.Proxy
	app    *httptest.Server
	appMux *http.ServeMux
	client *http.Client

	mu       sync.Mutex
	lastPath string // as the application received it, before any routing
}

// fetch GETs url with the fixture's client and reads the whole answer.
func (f *fixture) fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := f.client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, string(body)
}

// start runs a proxy in front of a test application; the application's extra routes go on
// appMux before the first request.
func start(t *testing.T, def devproxy.Identity) *fixture {
	t.Helper()
	f := &fixture{appMux: http.NewServeMux()}
	ln := testkit.Listen(t)
	f.origin = "http://" + ln.Addr().String()

	var (
		once sync.Once
		v    *core.Verifier
		verr error
	)
	verifier := func() (*core.Verifier, error) { // made at the first request, once the proxy serves
		once.Do(func() {
			v, verr = core.NewVerifier(core.Config{TeamDomain: f.origin, Audiences: []string{aud}, Logger: quiet})
		})
		return v, verr
	}
	f.appMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := seen{Host: r.Host, Path: r.URL.Path, EmailHeader: r.Header.Get("Cf-Access-Authenticated-User-Email")}
		for _, c := range r.Cookies() {
			s.Cookies = append(s.Cookies, c.Name+"="+c.Value)
		}
		tok := r.Header.Get(core.HeaderName)
		s.Header = tok != ""
		if c, err := r.Cookie(core.CookieName); err == nil && c.Value == tok {
			s.CookieMatch = true
		}
		if tok != "" {
			v, err := verifier()
			if err != nil {
				s.Error = err.Error()
			} else if c, err := v.Authenticate(r.Context(), tok, r.Host); err != nil {
				s.Error = err.Error()
			} else {
				s.Email, s.CommonName = c.Claims.Email, c.Claims.CommonName
				groups, err := c.Groups(r.Context())
				if err != nil {
					s.Error = err.Error()
				}
				for _, g := range groups {
					s.Groups = append(s.Groups, g.Name)
				}
				if !c.Claims.IsServiceToken() {
					if id, err := c.Identity(r.Context()); err == nil {
						s.IdP = id.IdP.Type
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
	f.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.lastPath = r.URL.Path
		f.mu.Unlock()
		f.appMux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.app.Close)
	up, _ := url.Parse(f.app.URL)

	var err error
	f.proxy, err = devproxy.New(devproxy.Config{Origin: f.origin, Upstream: up, AUD: aud, Default: def})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.proxy}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		f.proxy.Close()
	})
	jar, _ := cookiejar.New(nil)
	f.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return f
}

func ann() devproxy.Identity {
	return devproxy.Identity{Email: "ann@example.com", Groups: []string{"admins", "staff"}}
}

// get fetches path through the proxy and decodes what the application saw.
func (f *fixture) get(t *testing.T, path string, header ...string) seen {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.origin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignsEveryRequest(t *testing.T) {
	f := start(t, ann())
	s := f.get(t, "/whoami?x=1")
	if s.Error != "" || s.Email != "ann@example.com" || !s.Header || !s.CookieMatch {
		t.Fatalf("the application saw %+v", s)
	}
	if strings.Join(s.Groups, ",") != "admins,staff" || s.IdP != string(accesstest.GoogleWorkspace) {
		t.Errorf("groups %v from %s, want admins,staff from google-apps", s.Groups, s.IdP)
	}
	if s.EmailHeader != "ann@example.com" {
		t.Errorf("e-mail header %q", s.EmailHeader)
	}
	if u, _ := url.Parse(f.origin); s.Host != u.Host {
		t.Errorf("the application saw Host %q, want the browser's %q", s.Host, u.Host)
	}
	if s.Path != "/whoami" {
		t.Errorf("path %q", s.Path)
	}
}

func TestServiceTokenByDefault(t *testing.T) {
	f := start(t, devproxy.Identity{Email: "dev@example.com", ServiceToken: "0123456789abcdef0123456789abcdef.access", Service: true})
	s := f.get(t, "/")
	if s.Error != "" || s.CommonName != "0123456789abcdef0123456789abcdef.access" || s.Email != "" || s.EmailHeader != "" || len(s.Groups) != 0 {
		t.Fatalf("the application saw %+v", s)
	}
}

// Whatever the browser sends as Access's is replaced; its other cookies pass untouched.
func TestReplacesWhatTheBrowserSends(t *testing.T) {
	f := start(t, ann())
	forged := "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImV2ZUBleGFtcGxlLmNvbSJ9."
	s := f.get(t, "/",
		core.HeaderName, forged,
		"Cf-Access-Authenticated-User-Email", "eve@example.com",
		"Cookie", "theme=dark; CF_Authorization="+forged+"; lang=en")
	if s.Error != "" || s.Email != "ann@example.com" || s.EmailHeader != "ann@example.com" || !s.CookieMatch {
		t.Fatalf("the application saw %+v", s)
	}
	var names []string
	for _, c := range s.Cookies {
		if strings.Contains(c, forged) {
			t.Errorf("the forged cookie passed: %s", c)
		}
		name, _, _ := strings.Cut(c, "=")
		names = append(names, name)
	}
	if got := strings.Join(names, " "); got != "theme lang CF_Authorization" {
		t.Errorf("cookies %q, want theme lang CF_Authorization", got)
	}
}

// Signing out and in again, as the logout page and an application's login redirect do.
func TestLogoutAndLogin(t *testing.T) {
	f := start(t, ann())
	resp, body := f.fetch(t, f.origin+"/cdn-cgi/access/logout")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "signed out") {
		t.Fatalf("logout: %s\n%s", resp.Status, body)
	}
	s := f.get(t, "/", "Cookie", "CF_Authorization=stale")
	if s.Header || s.EmailHeader != "" || len(s.Cookies) != 0 {
		t.Fatalf("signed out, the application saw %+v", s)
	}

	// The login URL the verifier builds for this application brings the browser back.
	v, err := core.NewVerifier(core.Config{TeamDomain: f.origin, Audiences: []string{aud}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(f.origin)
	login, err := v.LoginURL(u.Host, "/admin?tab=users")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = f.fetch(t, login)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin?tab=users" {
		t.Fatalf("login: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if s := f.get(t, "/"); s.Email != "ann@example.com" || strings.Join(s.Groups, ",") != "admins,staff" {
		t.Fatalf("signed in again, the application saw %+v", s)
	}
}

// The login endpoint sends the browser to paths of this origin only.
func TestLoginRedirectsLocallyOnly(t *testing.T) {
	f := start(t, ann())
	for _, target := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example", "evil", ""} {
		resp, _ := f.fetch(t, f.origin+"/cdn-cgi/access/login/app.example?kid="+aud+"&redirect_url="+url.QueryEscape(target))
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/" {
			t.Errorf("redirect_url %q: %s to %q, want 302 to /", target, resp.Status, loc)
		}
	}
	// Another application's AUD is a configuration mistake to explain, not a login.
	resp, body := f.fetch(t, f.origin+"/cdn-cgi/access/login/app.example?kid=other-app&redirect_url=%2F")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "other-app") || !strings.Contains(body, aud) {
		t.Errorf("wrong kid: %s\n%s", resp.Status, body)
	}
}

// The form of the switcher page, posted as a browser would.
func (f *fixture) choose(t *testing.T, form url.Values, header ...string) *http.Response {
	t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", f.csrf(t))
	}
	req, err := http.NewRequest(http.MethodPost, f.origin+devproxy.SwitcherPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.origin)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (f *fixture) csrf(t *testing.T) string {
	t.Helper()
	resp, body := f.fetch(t, f.origin+devproxy.SwitcherPath)
	const marker = `name="csrf" value="`
	i := strings.Index(body, marker)
	if resp.StatusCode != http.StatusOK || i < 0 {
		t.Fatalf("switcher page: %s\n%s", resp.Status, body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestSwitcher(t *testing.T) {
	f := start(t, ann())
	resp := f.choose(t, url.Values{"kind": {"user"}, "email": {"bob@example.com"}, "groups": {"staff, ops"}, "idp": {"azureAD"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST: %s", resp.Status)
	}
	s := f.get(t, "/")
	if s.Email != "bob@example.com" || strings.Join(s.Groups, ",") != "staff,ops" || s.IdP != "azureAD" {
		t.Fatalf("after switching, the application saw %+v", s)
	}
	for _, c := range s.Cookies {
		if strings.HasPrefix(c, "cfaccess_dev") {
			t.Errorf("the proxy's own cookie reached the application: %s", c)
		}
	}

	resp = f.choose(t, url.Values{"kind": {"service"}, "email": {"bob@example.com"}, "service_token": {"abc123.access"}})
	resp.Body.Close()
	if s := f.get(t, "/"); s.CommonName != "abc123.access" || s.Email != "" {
		t.Fatalf("as a service token, the application saw %+v", s)
	}

	resp = f.choose(t, url.Values{"kind": {"out"}})
	resp.Body.Close()
	if s := f.get(t, "/"); s.Header {
		t.Fatalf("signed out, the application saw %+v", s)
	}

	resp = f.choose(t, url.Values{"action": {"reset"}})
	resp.Body.Close()
	if s := f.get(t, "/"); s.Email != "ann@example.com" {
		t.Fatalf("back to the default, the application saw %+v", s)
	}
}

func TestSwitcherRefusesBadInput(t *testing.T) {
	f := start(t, ann())
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no e-mail", url.Values{"kind": {"user"}, "email": {""}}, "e-mail address is needed"},
		{"not an e-mail", url.Values{"kind": {"user"}, "email": {"Ann <ann@example.com>"}}, "is not an e-mail address"},
		{"bad client ID", url.Values{"kind": {"service"}, "service_token": {"abc"}}, "client ID"},
		{"unknown provider", url.Values{"kind": {"user"}, "email": {"a@example.com"}, "idp": {"myspace"}}, "unknown identity provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.choose(t, tc.form)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
				t.Errorf("%s\n%s", resp.Status, body)
			}
			if s := f.get(t, "/"); s.Email != "ann@example.com" {
				t.Errorf("the identity changed: %+v", s)
			}
		})
	}
}

// A page elsewhere cannot change the identity: the form needs this process's token, and a
// browser's word that the post comes from this origin.
func TestSwitcherRefusesCrossSitePosts(t *testing.T) {
	f := start(t, ann())
	evil := url.Values{"kind": {"user"}, "email": {"eve@example.com"}, "groups": {"admins"}}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{"csrf": {"guess"}, "kind": {"user"}, "email": {"eve@example.com"}}, nil},
		{"other origin", evil, []string{"Origin", "http://evil.example"}},
		{"opaque origin", evil, []string{"Origin", "null"}},
		{"cross-site fetch", evil, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.choose(t, tc.form, tc.header...)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s, want 403", resp.Status)
			}
			if s := f.get(t, "/"); s.Email != "ann@example.com" {
				t.Errorf("the identity changed: %+v", s)
			}
		})
	}
}

// A tampered identity cookie is ignored, not trusted.
func TestIgnoresABadIdentityCookie(t *testing.T) {
	f := start(t, ann())
	u, _ := url.Parse(f.origin)
	for _, v := range []string{"garbage", "eyJlbWFpbCI6MX0", strings.Repeat("A", 5000)} {
		s := f.get(t, "/", "Cookie", "cfaccess_dev_"+u.Port()+"="+v)
		if s.Email != "ann@example.com" {
			t.Errorf("cookie %.20q: the application saw %+v", v, s)
		}
	}
}

// A browser's own call to get-identity answers for the identity it chose; an
// application's, for the token it sends.
func TestGetIdentity(t *testing.T) {
	f := start(t, ann())
	resp, err := f.client.Get(f.origin + "/cdn-cgi/access/get-identity")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Email  string
		Groups []struct{ Name string }
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || doc.Email != "ann@example.com" || len(doc.Groups) != 2 {
		t.Fatalf("%s: %+v, %v", resp.Status, doc, err)
	}

	bad := testkit.Get(t, f.origin+"/cdn-cgi/access/get-identity", "", map[string]string{"Cookie": "CF_Authorization=not-a-token"})
	if bad.Status != http.StatusUnauthorized {
		t.Errorf("a bad token's identity: %d, want 401", bad.Status)
	}
}

func TestUnknownAccessPath(t *testing.T) {
	f := start(t, ann())
	resp, _ := f.fetch(t, f.origin+"/cdn-cgi/access/nothing")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("%s, want 404", resp.Status)
	}
}

func TestUpstreamDown(t *testing.T) {
	f := start(t, ann())
	f.app.Close()
	resp, body := f.fetch(t, f.origin+"/")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "did not answer") {
		t.Errorf("%s\n%s", resp.Status, body)
	}
}

// A streamed response reaches the browser as the application writes it: the application
// waits for the test to have read the first part before it writes the second.
func TestStreamsResponses(t *testing.T) {
	f := start(t, ann())
	release := make(chan struct{})
	f.appMux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: second\n\n")
	})
	resp, err := f.client.Get(f.origin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := readWithin(br, 30*time.Second)
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q, %v (the proxy held the stream back)", line, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || !strings.Contains(string(rest), "data: second") {
		t.Fatalf("rest: %q, %v", rest, err)
	}
}

// readWithin reads a line, failing rather than hanging should it never come.
func readWithin(br *bufio.Reader, limit time.Duration) (string, error) {
	type result struct {
		s   string
		err error
	}
	c := make(chan result, 1)
	go func() {
		s, err := br.ReadString('\n')
		c <- result{s, err}
	}()
	select {
	case r := <-c:
		return r.s, r.err
	case <-time.After(limit):
		return "", errors.New("nothing arrived")
	}
}

// A websocket (any upgrade) passes through, with the token on the upgrade request.
func TestWebsocketUpgrade(t *testing.T) {
	f := start(t, ann())
	f.appMux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get(core.HeaderName) == "" {
			http.Error(w, "want a websocket upgrade with a token", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw) // echo until the client closes
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.origin, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a failure, not a hang
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s\n%s", resp.Status, b)
	}
	for _, msg := range []string{"ping\n", "pong pong\n"} {
		fmt.Fprint(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo %q: %q, %v", msg, got, err)
		}
	}
}

// A large upload streams: the application reads its start while the browser is still
// sending, which a buffering proxy would never allow.
func TestStreamsLargeUploads(t *testing.T) {
	f := start(t, ann())
	const size = 20 << 20
	firstMiB := make(chan struct{})
	f.appMux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.CopyN(h, r.Body, 1<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(firstMiB)
		m, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x %t", n+m, h.Sum(nil), r.Header.Get(core.HeaderName) != "")
	})

	pr, pw := io.Pipe()
	want := sha256.New()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB
	sendErr := make(chan error, 1)
	go func() {
		var err error
		for sent := 0; sent < size && err == nil; sent += len(chunk) {
			if sent == 2<<20 { // past the first MiB and whatever buffers hold
				select {
				case <-firstMiB:
				case <-time.After(60 * time.Second):
					err = errors.New("the application saw nothing of the upload yet: the proxy buffers it")
					continue
				}
			}
			want.Write(chunk)
			_, err = pw.Write(chunk)
		}
		pw.CloseWithError(err)
		sendErr <- err
	}()
	req, _ := http.NewRequest(http.MethodPost, f.origin+"/upload", pr)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	if wantBody := fmt.Sprintf("%d %s true", size, hex.EncodeToString(want.Sum(nil))); string(body) != wantBody {
		t.Errorf("%s: %q, want %q", resp.Status, body, wantBody)
	}
}

// Paths reach the application as sent, not cleaned or redirected.
func TestPathsPassAsSent(t *testing.T) {
	f := start(t, ann())
	req, _ := http.NewRequest(http.MethodGet, f.origin+"/a//b/../c", nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastPath != "/a//b/../c" {
		t.Errorf("the application saw path %q", f.lastPath)
	}
}

func TestCertsAreTheTeamDomains(t *testing.T) {
	f := start(t, ann())
	resp, err := http.Get(f.origin + "/cdn-cgi/access/certs")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []struct{ Kid string }
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || len(doc.Keys) != 2 {
		t.Fatalf("certs: %+v, %v", doc, err)
	}
}
