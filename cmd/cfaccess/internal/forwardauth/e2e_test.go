package forwardauth_test

// The tests behind real proxies: nginx (auth_request), Caddy (forward_auth) and Traefik
// (forwardAuth), each started as a process with the configuration of testdata/ (the one
// the docs give), in front of an upstream that echoes what it receives, asking the cfaccess
// binary, built from this repository and run as a process too.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// The variables that turn a missing proxy from a skip into a failure.
const (
	requireNginx   = "CFACCESS_REQUIRE_NGINX"
	requireCaddy   = "CFACCESS_REQUIRE_CADDY"
	requireTraefik = "CFACCESS_REQUIRE_TRAEFIK"
)

// The addresses that the configurations of testdata/ name, which the tests replace with
// their own.
const (
	configForwardAuth = "127.0.0.1:9091"
	configUpstream    = "127.0.0.1:8080"
	configHost        = "app.example.com"
)

// otherAUD is the AUD of the second application the forward-auth of these tests knows,
// bound to other.example.com.
const otherAUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"

// needBinary returns the path of the named program, or skips t (fails it when the variable
// require is set).
func needBinary(t *testing.T, name, pkg, require string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(require) != "" {
			t.Fatalf("%s is not installed, and %s is set: install it (%s)", name, require, pkg)
		}
		t.Skipf("SKIPPED: %s is not installed, so the tests behind a real %s did not run (%s; set %s=1 to make this a failure)", name, name, pkg, require)
	}
	return bin
}

var built struct {
	once sync.Once
	path string
	err  error
}

// cfaccessBinary builds the cfaccess command once per test binary.
func cfaccessBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "cfaccess-forwardauth-test-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "cfaccess")
		cmd := exec.Command("go", "build", "-o", built.path, "github.com/cfaccess/cfaccess/cmd/cfaccess")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatalf("building cfaccess: %v", built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// process is a program the test started, stopped when the test ends.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *testkit.LogBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

func startProcess(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), out: &testkit.LogBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.out)
		}
	})
	return p
}

// stop sends SIGTERM and waits for the process to exit, killing it after 20s.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not stop within 20s of SIGTERM", p.name)
	}
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// baseEnv is the test's environment without the variables that configure forward-auth.
func baseEnv() []string {
	return testkit.EnvWithout("CF_ACCESS_")
}

var listeningAddr = regexp.MustCompile(`msg="cfaccess forward-auth: listening" addr=(\S+)`)

// forwardAuth is the cfaccess binary, serving forward-auth.
type forwardAuth struct {
	*process
	addr string
}

// startForwardAuth runs `cfaccess forward-auth` for team, with the two applications of
// these tests bound to their hosts, and the login redirect.
func startForwardAuth(t *testing.T, team *accesstest.Server) *forwardAuth {
	t.Helper()
	p := startProcess(t, "cfaccess forward-auth", baseEnv(), cfaccessBinary(t), "forward-auth",
		"-listen", "127.0.0.1:0", "-team", team.URL,
		"-host-aud", configHost+"="+team.AUD, "-host-aud", "other.example.com="+otherAUD,
		"-login-redirect", "-log-level", "debug")
	// Stopped before the generic cleanup: SIGTERM must be a clean stop.
	t.Cleanup(func() {
		p.stop(t)
		if p.err != nil || !strings.Contains(p.out.String(), `msg="cfaccess forward-auth: stopped"`) {
			t.Errorf("forward-auth did not stop cleanly on SIGTERM (%v):\n%s", p.err, p.out)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := listeningAddr.FindStringSubmatch(p.out.String()); m != nil {
			return &forwardAuth{process: p, addr: m[1]}
		}
		if !p.running() || time.Now().After(deadline) {
			t.Fatalf("forward-auth did not listen (exited: %v):\n%s", !p.running(), p.out)
		}
		time.Sleep(20 * time.Millisecond) // polling its log for the line, with a deadline
	}
}

func (f *forwardAuth) healthz(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + f.addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// echo is what the upstream application received.
type echo struct {
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Body    string              `json:"body"`
	Headers map[string][]string `json:"headers"` // the X-Auth-Request-* headers, as received
}

// startUpstream starts the application: it answers every request with what it received.
func startUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := echo{Method: r.Method, URI: r.RequestURI, Body: string(body), Headers: map[string][]string{}}
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Auth-Request-") {
				e.Headers[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		_ = json.NewEncoder(w).Encode(e)
	}))
	t.Cleanup(s.Close)
	return s
}

// config reads a configuration of testdata/ and makes the replacements, each of which must
// find its text: a configuration that drifts from the tests fails them.
func config(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("testdata/%s no longer holds %q", name, replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s
}

// proxy is a running reverse proxy in front of the upstream.
type proxy struct {
	name   string
	url    string // http://127.0.0.1:port
	host   string // the Host header to send: app.example.com:port
	bodies bool   // it passes forward-auth's refusals on as they are (nginx answers its own)
	proc   *process
}

// waitReady waits until the whole chain answers: a request with no token is 401.
func (p *proxy) waitReady(t *testing.T) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if !p.proc.running() {
			return false
		}
		r, _ := http.NewRequest(http.MethodGet, p.url+"/", nil)
		r.Host = p.host
		if resp, err := http.DefaultClient.Do(r); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond) // polling for the proxy to load its routes, with a deadline
	}
	t.Fatalf("%s did not answer 401 for a request without a token within 60s:\n%s", p.name, p.proc.out)
	return false
}

// startProxy starts a proxy with start(port) until it gets a port that is free.
func startProxy(t *testing.T, name string, bodies bool, start func(port int) *process) *proxy {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := testkit.FreePort(t)
		p := &proxy{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), host: configHost + ":" + strconv.Itoa(port), bodies: bodies}
		p.proc = start(port)
		if p.waitReady(t) {
			return p
		}
		if attempt == 3 {
			t.Fatalf("%s exited:\n%s", name, p.proc.out)
		}
		t.Logf("%s exited (its port may have been taken meanwhile); trying another:\n%s", name, p.proc.out)
	}
}

// reply is the proxy's answer, and what the upstream received when it was reached.
type reply struct {
	status   int
	header   http.Header
	body     []byte
	upstream *echo
}

type call struct {
	method, path string
	token        string // Cf-Access-Jwt-Assertion
	cookie       string // CF_Authorization
	header       http.Header
	body         string
}

func (p *proxy) do(t *testing.T, c call) reply {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	r, err := http.NewRequest(c.method, p.url+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Host = p.host
	for k, v := range c.header {
		r.Header[k] = v
	}
	if c.token != "" {
		r.Header.Set(core.HeaderName, c.token)
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: core.CookieName, Value: c.cookie})
	}
	client := http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s through %s: %v", c.method, c.path, p.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rep := reply{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.Header.Get("X-Upstream") == "yes" {
		rep.upstream = &echo{}
		if err := json.Unmarshal(body, rep.upstream); err != nil {
			t.Fatalf("the upstream's echo %q: %v", body, err)
		}
	}
	return rep
}

// wantStatus checks the status, and that the upstream was reached exactly when it is 200.
func (r reply) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if (r.upstream != nil) != (status == http.StatusOK) {
		t.Fatalf("status %d, but the upstream was reached: %v", status, r.upstream != nil)
	}
}

// wantError checks the JSON error code of a refusal, where the proxy passes the body on.
func (r reply) wantError(t *testing.T, p *proxy, code core.Code) {
	t.Helper()
	if !p.bodies {
		return
	}
	var b struct {
		Error core.Code `json:"error"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error != code {
		t.Fatalf("body %s, want the JSON of %q (%v)", r.body, code, err)
	}
}

// wantIdentity checks the identity headers the upstream received: each exactly once with
// the value, or absent or empty where want is "".
func (r reply) wantIdentity(t *testing.T, user, email, groups, service string) {
	t.Helper()
	r.wantStatus(t, http.StatusOK)
	for _, h := range []struct{ name, want string }{
		{"X-Auth-Request-User", user},
		{"X-Auth-Request-Email", email},
		{"X-Auth-Request-Groups", groups},
		{"X-Auth-Request-Service-Token", service},
	} {
		got := r.upstream.Headers[h.name]
		ok := len(got) == 1 && got[0] == h.want || h.want == "" && (len(got) == 0 || len(got) == 1 && got[0] == "")
		if !ok {
			t.Errorf("the upstream received %s: %q, want %q", h.name, got, h.want)
		}
	}
}

// hiddenPaths runs, through p, every path that matters: Access's keys down (503) and back,
// no token, a user (header and cookie), a group location for a member and a non-member,
// service tokens, a wrong AUD, another application's host, headers and queries a client
// adds, and the login redirect.
func hiddenPaths(t *testing.T, p *proxy, team *accesstest.Server, fa *forwardAuth) {
	ann := team.User("ann@example.com", "admins")
	bob := team.User("bob@example.com", "ops")
	carol := team.User("carol@partner.example", "admins")
	svc := team.ServiceToken(serviceID)
	otherSvc := team.ServiceToken("fedcba9876543210fedcba9876543210.access")
	spoofed := http.Header{
		"X-Auth-Request-User":          {"mallory@example.com"},
		"X-Auth-Request-Email":         {"mallory@example.com"},
		"X-Auth-Request-Groups":        {"admins"},
		"X-Auth-Request-Service-Token": {serviceID},
	}

	t.Run("Access's keys down: 503 with Retry-After", func(t *testing.T) {
		for _, path := range []string{"/", "/admin/x"} {
			r := p.do(t, call{path: path, token: ann})
			r.wantStatus(t, http.StatusServiceUnavailable)
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q, want a number of seconds", r.header.Get("Retry-After"))
			}
			var b struct {
				Error core.Code `json:"error"`
			}
			if err := json.Unmarshal(r.body, &b); err != nil || b.Error != core.CodeUnavailable {
				t.Errorf("body %s, want the JSON of %q", r.body, core.CodeUnavailable)
			}
		}
		if s := fa.healthz(t); s != http.StatusServiceUnavailable {
			t.Errorf("/healthz = %d while no keys loaded, want 503", s)
		}
	})
	if t.Failed() {
		return
	}

	team.FailCerts(accesstest.Healthy)
	t.Run("the keys come back, with no restart", func(t *testing.T) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			r := p.do(t, call{path: "/", token: ann})
			if r.status == http.StatusOK {
				break
			}
			if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("status %d %s after the keys came back", r.status, r.body)
			}
			time.Sleep(100 * time.Millisecond) // polling for the cool-down to end, with a deadline
		}
		if s := fa.healthz(t); s != http.StatusOK {
			t.Errorf("/healthz = %d with keys, want 200", s)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("no token: 401", func(t *testing.T) {
		for _, path := range []string{"/", "/admin/x", "/api/x"} {
			r := p.do(t, call{path: path, header: spoofed})
			r.wantStatus(t, http.StatusUnauthorized)
			r.wantError(t, p, core.CodeMissingToken)
		}
	})
	t.Run("a valid user: 200, the e-mail passed upstream", func(t *testing.T) {
		r := p.do(t, call{path: "/some/page?q=1", token: ann, header: spoofed})
		r.wantIdentity(t, "ann@example.com", "ann@example.com", "", "")
		if r.upstream.URI != "/some/page?q=1" {
			t.Errorf("the upstream got %q", r.upstream.URI)
		}
		p.do(t, call{path: "/", cookie: ann}).wantIdentity(t, "ann@example.com", "ann@example.com", "", "")
		post := p.do(t, call{method: http.MethodPost, path: "/form", token: ann, body: "a=1&b=2"})
		post.wantIdentity(t, "ann@example.com", "ann@example.com", "", "")
		if post.upstream.Method != http.MethodPost || post.upstream.Body != "a=1&b=2" {
			t.Errorf("the upstream got %s with body %q", post.upstream.Method, post.upstream.Body)
		}
	})
	t.Run("a group location: 200 for a member", func(t *testing.T) {
		for _, path := range []string{"/admin/x", "/admin"} {
			p.do(t, call{path: path, token: ann, header: spoofed}).wantIdentity(t, "ann@example.com", "ann@example.com", "admins", "")
		}
	})
	t.Run("a group location: 403 for a non-member", func(t *testing.T) {
		for _, path := range []string{"/admin/x", "/admin", "/administrator"} {
			r := p.do(t, call{path: path, token: bob, header: spoofed})
			r.wantStatus(t, http.StatusForbidden)
			r.wantError(t, p, core.CodeForbidden)
		}
	})
	t.Run("a service token", func(t *testing.T) {
		p.do(t, call{path: "/", token: svc, header: spoofed}).wantIdentity(t, serviceID, "", "", serviceID)
		p.do(t, call{path: "/api/x", token: svc}).wantIdentity(t, serviceID, "", "", serviceID)
		p.do(t, call{path: "/admin/x", token: svc}).wantStatus(t, http.StatusForbidden)
		p.do(t, call{path: "/api/x", token: otherSvc}).wantStatus(t, http.StatusForbidden)
		p.do(t, call{path: "/api/x", token: ann}).wantIdentity(t, "ann@example.com", "ann@example.com", "", "")
		p.do(t, call{path: "/api/x", token: carol}).wantStatus(t, http.StatusForbidden)
	})
	t.Run("a query the client adds changes no policy", func(t *testing.T) {
		p.do(t, call{path: "/admin/x?allowed_service_tokens=" + serviceID, token: svc}).wantStatus(t, http.StatusForbidden)
		p.do(t, call{path: "/api/x?allowed_service_tokens=fedcba9876543210fedcba9876543210.access", token: otherSvc}).wantStatus(t, http.StatusForbidden)
		p.do(t, call{path: "/?allowed_emails=mallory@example.com", token: ann}).wantIdentity(t, "ann@example.com", "ann@example.com", "", "")
	})
	t.Run("a wrong-AUD token: 401", func(t *testing.T) {
		wrong := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"0ther" + team.AUD[5:]}})
		r := p.do(t, call{path: "/", token: wrong})
		r.wantStatus(t, http.StatusUnauthorized)
		r.wantError(t, p, core.CodeInvalidToken)
	})
	t.Run("another application's token: 401, whatever host the client names", func(t *testing.T) {
		other := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{otherAUD}})
		p.do(t, call{path: "/", token: other}).wantStatus(t, http.StatusUnauthorized)
		p.do(t, call{path: "/", token: other, header: http.Header{"X-Forwarded-Host": {"other.example.com"}}}).wantStatus(t, http.StatusUnauthorized)
	})
	t.Run("a browser without a token: 302 to the Access login", func(t *testing.T) {
		r := p.do(t, call{path: "/admin/x?y=1", header: http.Header{"Accept": {"text/html"}, "Sec-Fetch-Mode": {"navigate"}}})
		r.wantStatus(t, http.StatusFound)
		loc, err := url.Parse(r.header.Get("Location"))
		if err != nil || loc.Scheme+"://"+loc.Host != team.URL ||
			!strings.HasPrefix(loc.Path, "/cdn-cgi/access/login/"+configHost) ||
			loc.Query().Get("kid") != team.AUD || loc.Query().Get("redirect_url") != "/admin/x?y=1" {
			t.Fatalf("Location %q, want the team's login page for %s, sending the user back to /admin/x?y=1", r.header.Get("Location"), configHost)
		}
		// A script gets 401, not a page.
		p.do(t, call{path: "/admin/x?y=1"}).wantStatus(t, http.StatusUnauthorized)
	})
}

// behindProxy starts a team whose keys are down, forward-auth and the upstream, then the
// proxy name with start, and runs hiddenPaths through it. start gets the port to listen on,
// a directory of its own and the replacements that point a configuration of testdata/ at
// forward-auth and the upstream.
func behindProxy(t *testing.T, name string, bodies bool, start func(port int, dir string, chain []string) *process) {
	t.Helper()
	team := testkit.NewTeam(t)
	team.FailCerts(accesstest.Status500)
	fa, upstream := startForwardAuth(t, team), startUpstream(t)
	chain := []string{configForwardAuth, fa.addr, configUpstream, strings.TrimPrefix(upstream.URL, "http://")}
	p := startProxy(t, name, bodies, func(port int) *process { return start(port, t.TempDir(), chain) })
	hiddenPaths(t, p, team, fa)
}

// writeFiles writes each file, by path, with its content.
func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNginx(t *testing.T) {
	t.Parallel()
	bin := needBinary(t, "nginx", "apt-get install -y nginx", requireNginx)
	if out, err := exec.Command(bin, "-V").CombinedOutput(); err != nil || !strings.Contains(string(out), "http_auth_request_module") {
		t.Fatalf("this nginx lacks http_auth_request_module (%v):\n%s", err, out)
	}
	behindProxy(t, "nginx", false, func(port int, dir string, chain []string) *process {
		server := config(t, "nginx/cfaccess.conf", append([]string{"listen 80;", "listen 127.0.0.1:" + strconv.Itoa(port) + ";"}, chain...)...)
		user := ""
		if os.Geteuid() == 0 { // the workers need no other user's rights here
			user = "user root;\n"
		}
		main := user + `worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ` + dir + `/client_body;
    proxy_temp_path ` + dir + `/proxy;
    fastcgi_temp_path ` + dir + `/fastcgi;
    uwsgi_temp_path ` + dir + `/uwsgi;
    scgi_temp_path ` + dir + `/scgi;
    include ` + dir + `/cfaccess.conf;
}
`
		writeFiles(t, map[string]string{filepath.Join(dir, "cfaccess.conf"): server, filepath.Join(dir, "nginx.conf"): main})
		return startProcess(t, "nginx", baseEnv(), bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr",
			"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	})
}

func TestCaddy(t *testing.T) {
	t.Parallel()
	bin := needBinary(t, "caddy", "apt-get install -y caddy", requireCaddy)
	behindProxy(t, "caddy", true, func(port int, dir string, chain []string) *process {
		site := config(t, "caddy/Caddyfile", append([]string{configHost + " {", "http://" + configHost + ":" + strconv.Itoa(port) + " {\n\tbind 127.0.0.1"}, chain...)...)
		// No admin endpoint, no certificates: the site block is the docs'.
		path := filepath.Join(dir, "Caddyfile")
		writeFiles(t, map[string]string{path: "{\n\tadmin off\n\tauto_https off\n}\n\n" + site})
		env := append(baseEnv(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		return startProcess(t, "caddy", env, bin, "run", "--config", path, "--adapter", "caddyfile")
	})
}

func TestTraefik(t *testing.T) {
	t.Parallel()
	bin := needBinary(t, "traefik", "Traefik is not packaged by Debian: put a traefik binary (v2.11 or v3) on PATH", requireTraefik)
	behindProxy(t, "traefik", true, func(port int, dir string, chain []string) *process {
		routes := filepath.Join(dir, "cfaccess.yml")
		static := config(t, "traefik/traefik.yml",
			`address: ":80"`, `address: "127.0.0.1:`+strconv.Itoa(port)+`"`,
			"/etc/traefik/cfaccess.yml", routes)
		writeFiles(t, map[string]string{filepath.Join(dir, "traefik.yml"): static, routes: config(t, "traefik/cfaccess.yml", chain...)})
		return startProcess(t, "traefik", baseEnv(), bin, "--configFile="+filepath.Join(dir, "traefik.yml"))
	})
}

// TestDocsGiveTheTestedConfigurations: the configurations of the docs are those of
// testdata/, which the tests above run.
func TestDocsGiveTheTestedConfigurations(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "forward-auth.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nginx/cfaccess.conf", "caddy/Caddyfile", "traefik/traefik.yml", "traefik/cfaccess.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "\n"+string(b)+"```\n") {
			t.Errorf("docs/forward-auth.md does not give testdata/%s verbatim in a code block", name)
		}
	}
	// Every header the server sets is explained.
	sc := bufio.NewScanner(strings.NewReader(string(doc)))
	seen := map[string]bool{}
	for sc.Scan() {
		for _, h := range []string{"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Service-Token"} {
			if strings.HasPrefix(sc.Text(), "| `"+h+"`") {
				seen[h] = true
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("the docs' table of headers explains only %v", seen)
	}
}
