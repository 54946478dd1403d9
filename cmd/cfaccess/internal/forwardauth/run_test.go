package forwardauth_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/forwardauth"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/redistest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// The environment variables Run reads; each test that sets one does so with t.Setenv.
var runEnv = []string{core.EnvTeamDomain, core.EnvAudiences, core.EnvHostAudiences, "CF_ACCESS_REDIS_URL", "CF_ACCESS_CACHE_KEY"}

// clearEnv empties the variables that configure Run, for the length of t.
func clearEnv(t *testing.T) {
	for _, k := range runEnv {
		t.Setenv(k, "")
	}
}

// running is a Run in progress.
type running struct {
	addr   string // where it listens
	cancel context.CancelFunc
	done   chan int // its exit status
	log    *testkit.LogBuffer
}

var listeningLine = regexp.MustCompile(`msg="cfaccess forward-auth: listening" addr=(\S+)`)

// startRun runs forward-auth with args until the test ends, and waits for it to listen.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{cancel: cancel, done: make(chan int, 1), log: &testkit.LogBuffer{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.log.Write(append(sc.Bytes(), '\n'))
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: pw, Getenv: os.Getenv}
	go func() {
		code := forwardauth.Run(ctx, env, args)
		pw.Close()
		r.done <- code
	}()
	t.Cleanup(func() { r.stop(t) })
	select {
	case r.addr = <-addr:
		return r
	case code := <-r.done:
		r.done <- code
		t.Fatalf("forward-auth exited with %d before listening:\n%s", code, r.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("forward-auth did not listen within 30s:\n%s", r.log)
	}
	return nil
}

// stop cancels the run and returns its exit status.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("forward-auth did not stop within 30s of its context's end:\n%s", r.log)
		return -1
	}
}

func (r *running) get(t *testing.T, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+r.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(core.HeaderName, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

// runOnce runs forward-auth with args and returns its exit status and output, for runs that
// end by themselves.
func runOnce(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = forwardauth.Run(ctx, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs, Getenv: os.Getenv}, args)
	if ctx.Err() != nil {
		t.Fatalf("forward-auth %q did not end by itself:\n%s", args, errs.String())
	}
	return code, out.String(), errs.String()
}

func TestRunUsage(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{"nothing configured", nil, nil, core.EnvTeamDomain},
		{"no AUD", []string{"-team", team.URL}, nil, "-aud"},
		{"no team", []string{"-aud", team.AUD}, nil, "-team"},
		{"a bad team", []string{"-team", "http://example.com", "-aud", team.AUD}, nil, "team domain"},
		{"a host without its AUD", []string{"-team", team.URL, "-host-aud", "app.example.com"}, nil, `-host-aud "app.example.com"`},
		{"a bad host", []string{"-team", team.URL, "-host-aud", "https://app.example.com/=x"}, nil, "HostAudiences"},
		{"an AUD list in one tag", []string{"-team", team.URL, "-aud", team.AUD + " " + team.AUD}, nil, "white space"},
		{"an argument", []string{"-team", team.URL, "-aud", team.AUD, "extra"}, nil, `unexpected argument "extra"`},
		{"an unknown flag", []string{"-listne", "x"}, nil, "-listne"},
		{"a bad log level", []string{"-log-level", "loud"}, nil, "log-level"},
		{"a bad variable", nil, map[string]string{core.EnvTeamDomain: team.URL, core.EnvHostAudiences: "app.example.com"}, core.EnvHostAudiences},
		{"a bad variable beside a flag", []string{"-team", team.URL}, map[string]string{core.EnvHostAudiences: "app.example.com"}, core.EnvHostAudiences},
		{"two sources of groups", []string{"-team", team.URL, "-aud", team.AUD, "-groups-claim", "groups", "-groups-attribute", "groups"}, nil, "not both"},
		{"a blank groups claim", []string{"-team", team.URL, "-aud", team.AUD, "-groups-claim", " groups"}, nil, "GroupsClaim"},
		{"Redis without its key", []string{"-team", team.URL, "-aud", team.AUD}, map[string]string{"CF_ACCESS_REDIS_URL": "redis://127.0.0.1:1"}, "CF_ACCESS_CACHE_KEY"},
		{"a short key", []string{"-team", team.URL, "-aud", team.AUD}, map[string]string{"CF_ACCESS_REDIS_URL": "redis://127.0.0.1:1", "CF_ACCESS_CACHE_KEY": "abcd"}, "CF_ACCESS_CACHE_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runOnce(t, tt.args...)
			if code != cli.ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d naming %q", code, stderr, cli.ExitUsage, tt.want)
			}
			if strings.Contains(stderr, "listening") {
				t.Fatalf("it listened:\n%s", stderr)
			}
		})
	}
	t.Run("-h", func(t *testing.T) {
		code, stdout, _ := runOnce(t, "-h")
		if code != cli.ExitOK || !strings.Contains(stdout, "usage: cfaccess forward-auth") || !strings.Contains(stdout, "-host-aud") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
}

func TestRunServesAndStops(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t)
	r := startRun(t, "-listen", "127.0.0.1:0", "-team", team.URL, "-aud", team.AUD, "-log-level", "debug")
	if resp := r.get(t, forwardauth.PathHealthz, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
	resp := r.get(t, "/auth?allowed_email_domains=example.com", team.User("ann@example.com"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get(forwardauth.HeaderEmail) != "ann@example.com" {
		t.Fatalf("/auth = %d, email %q", resp.StatusCode, resp.Header.Get(forwardauth.HeaderEmail))
	}
	if resp := r.get(t, "/auth", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/auth without a token = %d", resp.StatusCode)
	}
	if code := r.stop(t); code != cli.ExitOK {
		t.Fatalf("exit %d after its context ended, want 0:\n%s", code, r.log)
	}
	log := r.log.String()
	for _, want := range []string{
		"level=DEBUG msg=\"cfaccess: request allowed\"", "subject=ann@example.com", // -log-level debug logs every decision
		"level=INFO msg=\"cfaccess: request denied\" outcome=denied source=none",
		"msg=\"cfaccess forward-auth: stopped\"",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "level=WARN") {
		t.Errorf("a loopback server warned:\n%s", log)
	}
	if _, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		t.Errorf("%s still accepts connections after the server stopped", r.addr)
	}
}

// TestRunEnvironment: the environment convention configures the server, and each flag given
// replaces its variable.
func TestRunEnvironment(t *testing.T) {
	team := testkit.NewTeam(t)
	wrongAUD := "0ther" + team.AUD[5:]
	tok := team.User("ann@example.com")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		host string // X-Forwarded-Host
	}{
		{"the environment alone", map[string]string{core.EnvTeamDomain: team.URL, core.EnvAudiences: wrongAUD + ", " + team.AUD}, nil, ""},
		{"-aud replaces CF_ACCESS_AUD", map[string]string{core.EnvTeamDomain: team.URL, core.EnvAudiences: wrongAUD}, []string{"-aud", team.AUD}, ""},
		{"-team replaces CF_ACCESS_TEAM_DOMAIN", map[string]string{core.EnvTeamDomain: "otherteam", core.EnvAudiences: team.AUD}, []string{"-team", team.URL}, ""},
		{"CF_ACCESS_HOST_AUD", map[string]string{core.EnvTeamDomain: team.URL, core.EnvHostAudiences: "app.example.com=" + team.AUD + " other.example.com=" + wrongAUD}, nil, "app.example.com"},
		{"-host-aud, repeated", map[string]string{core.EnvTeamDomain: team.URL}, []string{"-host-aud", "other.example.com=" + wrongAUD, "-host-aud", "app.example.com=" + team.AUD}, "app.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := startRun(t, append([]string{"-listen", "127.0.0.1:0"}, tt.args...)...)
			ask := func(host string) int {
				header := map[string]string{core.HeaderName: tok}
				if host != "" {
					header["X-Forwarded-Host"] = host
				}
				return testkit.Get(t, "http://"+r.addr+"/auth", "", header).Status
			}
			if status := ask(tt.host); status != http.StatusOK {
				t.Fatalf("/auth = %d, want 200:\n%s", status, r.log)
			}
			if tt.host != "" {
				if status := ask("other.example.com"); status != http.StatusUnauthorized {
					t.Fatalf("/auth for the other application's host = %d, want 401", status)
				}
			}
		})
	}
}

func TestRunListenFails(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t)
	ln := testkit.Listen(t)
	code, _, stderr := runOnce(t, "-listen", ln.Addr().String(), "-team", team.URL, "-aud", team.AUD)
	if code != cli.ExitRefused || !strings.Contains(stderr, "cannot listen") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestRunKeysUnavailableAtStart: a server whose team domain is down still starts, answers
// 503, and says it is not ready.
func TestRunKeysUnavailableAtStart(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t)
	down := testkit.NewTeam(t)
	down.Close()
	r := startRun(t, "-listen", "127.0.0.1:0", "-team", down.URL, "-aud", team.AUD)
	if resp := r.get(t, forwardauth.PathHealthz, ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/healthz = %d, want 503", resp.StatusCode)
	}
	if resp := r.get(t, "/auth", team.User("ann@example.com")); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("/auth = %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.log.String(), "level=WARN") {
		t.Errorf("an outage was not logged at Warn:\n%s", r.log)
	}
}

// TestRunFleet: two instances sharing a Redis identity store (CF_ACCESS_REDIS_URL,
// CF_ACCESS_CACHE_KEY) ask get-identity once for a token between them.
func TestRunFleet(t *testing.T) {
	clearEnv(t)
	redis := redistest.Start(t)
	team := testkit.NewTeam(t)
	t.Setenv("CF_ACCESS_REDIS_URL", redis.URL)
	t.Setenv("CF_ACCESS_CACHE_KEY", hex.EncodeToString(bytes.Repeat([]byte{7}, core.MinStoreKeySize)))
	args := []string{"-listen", "127.0.0.1:0", "-team", team.URL, "-aud", team.AUD}
	a, b := startRun(t, args...), startRun(t, args...)
	if !strings.Contains(a.log.String(), "identity_store=redis") {
		t.Fatalf("the store is not in use:\n%s", a.log)
	}
	tok := team.User("ann@example.com", "admins")
	if resp := a.get(t, "/auth?allowed_groups=admins", tok); resp.StatusCode != http.StatusOK || resp.Header.Get(forwardauth.HeaderGroups) != "admins" {
		t.Fatalf("instance a: %d, groups %q", resp.StatusCode, resp.Header.Get(forwardauth.HeaderGroups))
	}
	// The store is written after the answer: wait for the entry before asking b.
	deadline := time.Now().Add(30 * time.Second)
	for dbsize(t, redis.Addr) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("instance a left no entry in Redis within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp := b.get(t, "/auth?allowed_groups=admins", tok); resp.StatusCode != http.StatusOK || resp.Header.Get(forwardauth.HeaderGroups) != "admins" {
		t.Fatalf("instance b: %d, groups %q", resp.StatusCode, resp.Header.Get(forwardauth.HeaderGroups))
	}
	if n := team.IdentityRequests(); n != 1 {
		t.Fatalf("get-identity was asked %d times by two instances sharing a store; want once", n)
	}
}

// dbsize returns the number of keys in the Redis at addr (inline protocol: DBSIZE).
func dbsize(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("DBSIZE\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("DBSIZE: %q, %v", line, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		t.Fatalf("DBSIZE: %q", line)
	}
	return n
}

// TestRunGroupSources: -groups-attribute and -groups-claim say where groups come from.
func TestRunGroupSources(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t, accesstest.WithIdP(accesstest.SAML))
	base := []string{"-listen", "127.0.0.1:0", "-team", team.URL, "-aud", team.AUD}
	saml := team.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{"admins"}})

	// A SAML provider lists no groups of get-identity's own: only the attribute has them.
	plain := startRun(t, base...)
	if resp := plain.get(t, "/auth?allowed_groups=admins", saml); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("SAML groups without -groups-attribute: %d, want 403", resp.StatusCode)
	}
	attr := startRun(t, append(base, "-groups-attribute", accesstest.GroupsAttribute)...)
	if resp := attr.get(t, "/auth?allowed_groups=admins", saml); resp.StatusCode != http.StatusOK || resp.Header.Get(forwardauth.HeaderGroups) != "admins" {
		t.Fatalf("-groups-attribute: %d, groups %q", resp.StatusCode, resp.Header.Get(forwardauth.HeaderGroups))
	}

	claim := startRun(t, append(base, "-groups-claim", "roles")...)
	before := team.IdentityRequests()
	tok := team.Mint(accesstest.Token{Email: "bob@example.com", Custom: map[string]any{"roles": []string{"ops", "admins"}}})
	if resp := claim.get(t, "/auth?allowed_groups=admins", tok); resp.StatusCode != http.StatusOK || resp.Header.Get(forwardauth.HeaderGroups) != "ops,admins" {
		t.Fatalf("-groups-claim: %d, groups %q", resp.StatusCode, resp.Header.Get(forwardauth.HeaderGroups))
	}
	if n := team.IdentityRequests() - before; n != 0 {
		t.Fatalf("groups in the token cost %d calls to get-identity", n)
	}
}

func TestRunWarnsBeyondLoopback(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t)
	r := startRun(t, "-listen", "0.0.0.0:0", "-team", team.URL, "-aud", team.AUD)
	if code := r.stop(t); code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(r.log.String(), `level=WARN msg="cfaccess forward-auth: listening beyond loopback; X-Forwarded-Host`) {
		t.Fatalf("no warning:\n%s", r.log)
	}
}

// TestRunMetrics: with -metrics, the decisions, the verifier's state and its calls to the
// team domain are served as Prometheus text at GET /metrics on a listener of their own,
// counted exactly; the /auth port serves no metrics.
func TestRunMetrics(t *testing.T) {
	clearEnv(t)
	team := testkit.NewTeam(t)
	r := startRun(t, "-listen", "127.0.0.1:0", "-team", team.URL, "-aud", team.AUD, "-metrics", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="cfaccess forward-auth: metrics listening" url=(\S+)`).FindStringSubmatch(r.log.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", r.log)
	}
	for range 2 {
		if resp := r.get(t, "/auth", team.User("ann@example.com")); resp.StatusCode != http.StatusOK {
			t.Fatalf("/auth = %d", resp.StatusCode)
		}
	}
	if resp := r.get(t, "/auth", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/auth without a token = %d", resp.StatusCode)
	}
	if resp := r.get(t, "/metrics", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the /auth port answers /metrics: %d", resp.StatusCode)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", m[1], resp.StatusCode, err)
	}
	for _, want := range []string{
		`cfaccess_decisions_total{cfaccess_code="",cfaccess_outcome="allowed",cfaccess_reason="",otel_scope_name`,
		`cfaccess_decisions_total{cfaccess_code="missing_token",cfaccess_outcome="denied",cfaccess_reason="",otel_scope_name`,
		`cfaccess_keys_age_seconds`,
		`cfaccess_team_request_duration_seconds_count{cfaccess_endpoint="certs",cfaccess_status_class="2xx"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `cfaccess_decisions_total{cfaccess_code="",cfaccess_outcome="allowed"`) && !strings.HasSuffix(line, " 2") {
			t.Errorf("allowed decisions: %s, want 2", line)
		}
	}
}
