package examples_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/conformance"
	"github.com/cfaccess/cfaccess/internal/redistest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// The example servers, one per framework, each in the directory of that name.
var frameworks = []string{"chi", "echo", "echo5", "fiber", "fiber2", "gin"}

var binDir string

// TestMain builds every example once; the tests run the binaries as a user would.
// EXAMPLES=chi,gin narrows the run to some of them while working on one.
func TestMain(m *testing.M) {
	if only := os.Getenv("EXAMPLES"); only != "" {
		frameworks = strings.Split(only, ",")
	}
	dir, err := os.MkdirTemp("", "cfaccess-examples")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, fw := range frameworks {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, fw), "./"+fw)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building the %s example: %v\n", fw, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running example server.
type process struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	output string // stdout up to the "listening" line
	stderr *testkit.LogBuffer
}

var listening = regexp.MustCompile(`example listening on (http://\S+)`)

// start runs the example fw with env (over an environment without CF_ACCESS_*) and waits
// until it listens.
func start(t *testing.T, fw string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, fw))
	cmd.Env = append(cleanEnv(), append([]string{"ADDR=127.0.0.1:0"}, env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(testkit.LogBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: stderr}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // the examples shut down gracefully
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop on SIGTERM", fw)
		}
	})

	found := make(chan string, 1)
	var out strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.base = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never said it was listening; stderr:\n%s", fw, stderr.String())
	}
	mu.Lock()
	p.output = out.String()
	mu.Unlock()
	return p
}

func cleanEnv() []string {
	return testkit.EnvWithout("CF_ACCESS_", "ADDR=", "ADMIN_GROUP=", "METRICS_ADDR=")
}

// TestExamples runs every example against a fake team domain over real HTTP and checks each
// row of the behaviour table, across an identity outage, a certs outage, key rotation and
// concurrent traffic: the same answers from all six.
func TestExamples(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			team := testkit.NewTeam(t)
			const admins = "wheel"
			p := start(t, fw, "CF_ACCESS_TEAM_DOMAIN="+team.URL,
				"CF_ACCESS_AUD=0000000000000000000000000000000000000000000000000000000000000000, "+team.AUD,
				"ADMIN_GROUP="+admins)
			if strings.Contains(p.output, "DEMO") {
				t.Fatalf("demo mode with CF_ACCESS_TEAM_DOMAIN set:\n%s", p.output)
			}

			member := team.User("ann@example.com", admins, "staff")
			outsider := team.User("bob@example.com", "staff")
			svc := team.ServiceToken("0123456789abcdef0123456789abcdef.access")
			expired := team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
			otherApp := team.Mint(accesstest.Token{Email: "ann@example.com", Audience: []string{"another-app"}})
			forged := member[:strings.LastIndexByte(member, '.')] + ".c2lnbmF0dXJl"
			// SAML attributes make a token of about 3 KB, which Access sends twice, as the
			// header and as the cookie, beside the application's cookies: beyond fiber's
			// default read buffer.
			big := conformance.LargeToken(team, "ann@example.com", admins)
			cookies := []string{"_ga=GA1.1.1180465126.1714033531; CF_Authorization=" + big + "; theme=dark"}

			for _, c := range []conformance.Case{
				{Name: "health, no token", Path: "/healthz", Status: 200},
				{Name: "whoami, no token", Path: "/whoami", Status: 401, Code: core.CodeMissingToken},
				{Name: "whoami, member", Path: "/whoami", Token: member, Status: 200, Contain: `"email":"ann@example.com"`},
				{Name: "whoami, a large token in the header and the cookie", Path: "/whoami", Token: big, Cookies: cookies, Status: 200, Contain: `"department":"Platform Engineering"`},
				{Name: "admin, a large token in the header and the cookie", Path: "/admin", Token: big, Cookies: cookies, Status: 200, Contain: `"admin":true`},
				{Name: "whoami, by cookie", Path: "/whoami", Cookie: member, Status: 200, Contain: `"aud":["` + team.AUD + `"]`},
				{Name: "whoami, service token", Path: "/whoami", Token: svc, Status: 200, Contain: `"common_name":"0123456789abcdef0123456789abcdef.access"`},
				{Name: "whoami, expired", Path: "/whoami", Token: expired, Status: 401, Code: core.CodeInvalidToken},
				{Name: "whoami, other application", Path: "/whoami", Token: otherApp, Status: 401, Code: core.CodeInvalidToken},
				{Name: "whoami, forged", Path: "/whoami", Token: forged, Status: 401, Code: core.CodeInvalidToken},
				{Name: "whoami, e-mail header only", Path: "/whoami", Header: map[string]string{"Cf-Access-Authenticated-User-Email": "ann@example.com"}, Status: 401, Code: core.CodeMissingToken},
				{Name: "me, member", Path: "/me", Token: member, Status: 200, Contain: `"name":"` + admins + `"`},
				{Name: "me, service token", Path: "/me", Token: svc, Status: 403, Code: core.CodeForbidden},
				{Name: "me, no token", Path: "/me", Status: 401, Code: core.CodeMissingToken},
				{Name: "admin, member", Path: "/admin", Token: member, Status: 200, Contain: `"admin":true`},
				{Name: "admin, outsider", Path: "/admin", Token: outsider, Status: 403, Code: core.CodeForbidden},
				{Name: "admin, service token", Path: "/admin", Token: svc, Status: 403, Code: core.CodeForbidden},
				{Name: "admin, no token", Path: "/admin", Status: 401, Code: core.CodeMissingToken},
			} {
				conformance.Check(t, p.base, c)
			}

			// get-identity down: group routes fail closed with 503, the others carry on.
			fresh := team.User("cy@example.com", admins)
			team.FailIdentity(accesstest.Status500)
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: fresh, Status: 503, Code: core.CodeUnavailable})
			conformance.Check(t, p.base, conformance.Case{Path: "/me", Token: fresh, Status: 503, Code: core.CodeUnavailable})
			conformance.Check(t, p.base, conformance.Case{Path: "/whoami", Token: fresh, Status: 200})
			team.FailIdentity(accesstest.Healthy)
			// The failure is remembered for Identities.FailureTTL (5 s) per token; another token
			// asks again at once.
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: fresh, Status: 503, Code: core.CodeUnavailable})
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: team.User("cy@example.com", admins), Status: 200})

			// Rotation: a token of the new key verifies after one refetch; the old key's too.
			team.RotateKeys()
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: team.User("dee@example.com", admins), Status: 200})
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: member, Status: 200})

			// Certs down after boot: known keys keep working.
			team.FailCerts(accesstest.Status500)
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: team.User("eve@example.com", admins), Status: 200})
			team.FailCerts(accesstest.Healthy)

			// Concurrent mixed traffic: every answer the right one.
			mixed := []conformance.Case{
				{Path: "/admin", Token: member, Status: 200},
				{Path: "/admin", Token: outsider, Status: 403, Code: core.CodeForbidden},
				{Path: "/whoami", Token: forged, Status: 401, Code: core.CodeInvalidToken},
				{Path: "/whoami", Status: 401, Code: core.CodeMissingToken},
				{Path: "/me", Token: svc, Status: 403, Code: core.CodeForbidden},
				{Path: "/healthz", Status: 200},
			}
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := range 30 {
						conformance.Check(t, p.base, mixed[(w+i)%len(mixed)])
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestMetrics: with METRICS_ADDR set, each example serves Prometheus text at GET /metrics on
// a listener of its own, counting exactly the decisions it made, by outcome, code and reason;
// the application's own address serves no metrics.
func TestMetrics(t *testing.T) {
	metricsAt := regexp.MustCompile(`metrics listening on (http://\S+)`)
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			team := testkit.NewTeam(t)
			p := start(t, fw, "CF_ACCESS_TEAM_DOMAIN="+team.URL, "CF_ACCESS_AUD="+team.AUD, "METRICS_ADDR=127.0.0.1:0")
			m := metricsAt.FindStringSubmatch(p.output)
			if m == nil {
				t.Fatalf("no metrics address in:\n%s", p.output)
			}
			member, outsider := team.User("ann@example.com", "admins"), team.User("bob@example.com", "staff")
			for range 3 {
				conformance.Check(t, p.base, conformance.Case{Path: "/whoami", Token: member, Status: 200})
			}
			for range 2 {
				conformance.Check(t, p.base, conformance.Case{Path: "/whoami", Status: 401, Code: core.CodeMissingToken})
			}
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: outsider, Status: 403, Code: core.CodeForbidden})
			if resp, err := http.Get(p.base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("the application's address answers /metrics: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}

			body := get(t, m[1])
			// Each /admin request is decided twice, by the middleware and by the route's
			// requirement: the outsider is allowed by the one, refused by the other.
			for _, want := range []string{
				`cfaccess_decisions_total{cfaccess_code="",cfaccess_outcome="allowed",cfaccess_reason=""`, // then the scope labels, then the count
				`cfaccess_decisions_total{cfaccess_code="missing_token",cfaccess_outcome="denied",cfaccess_reason=""`,
				`cfaccess_decisions_total{cfaccess_code="forbidden",cfaccess_outcome="denied",cfaccess_reason="policy"`,
				`cfaccess_keys_age_seconds`,
				`cfaccess_team_request_duration_seconds_count{cfaccess_endpoint="certs",cfaccess_status_class="2xx"`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("/metrics lacks %s:\n%s", want, body)
				}
			}
			for series, want := range map[string]string{
				`cfaccess_code="",cfaccess_outcome="allowed"`:             "4", // three members, one outsider past the middleware
				`cfaccess_code="missing_token",cfaccess_outcome="denied"`: "2",
				`cfaccess_code="forbidden",cfaccess_outcome="denied"`:     "1",
			} {
				if got := sample(body, "cfaccess_decisions_total", series); got != want {
					t.Errorf("cfaccess_decisions_total{%s} = %q, want %s", series, got, want)
				}
			}
		})
	}
}

// sample returns the value of the first sample of metric whose labels contain labels.
func sample(body, metric, labels string) string {
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, metric+"{") && strings.Contains(line, labels) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

func get(t *testing.T, url string) string {
	t.Helper()
	r := testkit.Get(t, url, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.Status, r.Body)
	}
	return r.Body
}

// TestWrongAUDLoggedOnce: a token that the team signed for another application is refused,
// and the mistake it reveals (a configured AUD that is not the application's) is logged
// once at Warn, with the token's AUD and the configured ones, however many requests carry it.
func TestWrongAUDLoggedOnce(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			team := testkit.NewTeam(t)
			const wrong = "1111111111111111111111111111111111111111111111111111111111111111"
			p := start(t, fw, "CF_ACCESS_TEAM_DOMAIN="+team.URL, "CF_ACCESS_AUD="+wrong)
			token := team.User("ann@example.com") // for team.AUD, the application Access protects
			for range 10 {
				conformance.Check(t, p.base, conformance.Case{Path: "/whoami", Token: token, Status: 401, Code: core.CodeInvalidToken})
			}
			logs := p.stderr.String()
			if n := strings.Count(logs, "for another application"); n != 1 {
				t.Fatalf("logged %d times, want once:\n%s", n, logs)
			}
			if !strings.Contains(logs, "WARN") || !strings.Contains(logs, team.AUD) || !strings.Contains(logs, wrong) {
				t.Errorf("the line names neither both AUDs nor its level:\n%s", logs)
			}
			if strings.Contains(logs, token) {
				t.Errorf("the token is in the log")
			}
		})
	}
}

// TestSeveralInstances: two instances of an example sharing one Redis answer /me and /admin
// for a token with one get-identity call between them; refusals are unchanged; with Redis
// killed, both keep answering correctly, from Access.
func TestSeveralInstances(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			redisSrv := redistest.Start(t)
			rdb := redis.NewClient(&redis.Options{Addr: redisSrv.Addr})
			t.Cleanup(func() { _ = rdb.Close() })
			team := testkit.NewTeam(t)
			const admins = "wheel"
			env := []string{"CF_ACCESS_TEAM_DOMAIN=" + team.URL, "CF_ACCESS_AUD=" + team.AUD, "ADMIN_GROUP=" + admins,
				"CF_ACCESS_REDIS_URL=" + redisSrv.URL, "CF_ACCESS_CACHE_KEY=" + randomHex(t, 32)}
			a, b := start(t, fw, env...), start(t, fw, env...)
			// entries waits for the n-th entry in Redis: instances write after they answer.
			entries := func(n int) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for len(rdb.Keys(context.Background(), "cfaccess:identity:*").Val()) < n {
					if time.Now().After(deadline) {
						t.Fatalf("fewer than %d entries in Redis", n)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			calls := func(want int) {
				t.Helper()
				if n := team.IdentityRequests(); n != want {
					t.Fatalf("get-identity called %d times, want %d", n, want)
				}
			}

			member, outsider := team.User("ann@example.com", admins, "staff"), team.User("bob@example.com", "staff")
			conformance.Check(t, a.base, conformance.Case{Path: "/me", Token: member, Status: 200, Contain: `"name":"` + admins + `"`})
			entries(1)
			conformance.Check(t, b.base, conformance.Case{Path: "/me", Token: member, Status: 200, Contain: `"name":"` + admins + `"`})
			conformance.Check(t, b.base, conformance.Case{Path: "/admin", Token: member, Status: 200, Contain: `"admin":true`})
			conformance.Check(t, a.base, conformance.Case{Path: "/admin", Token: member, Status: 200, Contain: `"admin":true`})
			calls(1)
			conformance.Check(t, b.base, conformance.Case{Path: "/admin", Token: outsider, Status: 403, Code: core.CodeForbidden})
			entries(2)
			conformance.Check(t, a.base, conformance.Case{Path: "/admin", Token: outsider, Status: 403, Code: core.CodeForbidden})
			conformance.Check(t, a.base, conformance.Case{Path: "/me", Token: outsider, Status: 200, Contain: `"bob@example.com"`})
			calls(2)
			forged := member[:strings.LastIndexByte(member, '.')] + ".c2lnbmF0dXJl"
			for _, p := range []*process{a, b} {
				conformance.Check(t, p.base, conformance.Case{Path: "/admin", Status: 401, Code: core.CodeMissingToken})
				conformance.Check(t, p.base, conformance.Case{Path: "/me", Token: forged, Status: 401, Code: core.CodeInvalidToken})
				conformance.Check(t, p.base, conformance.Case{Path: "/me", Token: team.ServiceToken(""), Status: 403, Code: core.CodeForbidden})
			}
			calls(2)

			redisSrv.Stop()
			member2, outsider2 := team.User("cy@example.com", admins), team.User("dee@example.com", "staff")
			for _, p := range []*process{a, b} {
				conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: member2, Status: 200, Contain: `"admin":true`})
				conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: outsider2, Status: 403, Code: core.CodeForbidden})
				conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: member, Status: 200}) // each remembers it
			}
			calls(6)
		})
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var quoted = regexp.MustCompile(`(MEMBER|OUTSIDER)='([^']+)'`)

// TestDemoMode: with no CF_ACCESS_ variable set each example says loudly that it is a demo and
// prints tokens that work as advertised.
func TestDemoMode(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			p := start(t, fw)
			if !strings.Contains(p.output, "DEMO MODE") || !strings.Contains(p.output, "NOT PROTECTED") {
				t.Fatalf("no demo banner:\n%s", p.output)
			}
			tokens := map[string]string{}
			for _, m := range quoted.FindAllStringSubmatch(p.output, -1) {
				tokens[m[1]] = m[2]
			}
			if len(tokens) != 2 || !strings.Contains(p.output, "curl") {
				t.Fatalf("no ready-to-paste commands:\n%s", p.output)
			}
			conformance.Check(t, p.base, conformance.Case{Path: "/healthz", Status: 200})
			conformance.Check(t, p.base, conformance.Case{Path: "/whoami", Status: 401, Code: core.CodeMissingToken})
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: tokens["MEMBER"], Status: 200})
			conformance.Check(t, p.base, conformance.Case{Path: "/me", Token: tokens["MEMBER"], Status: 200, Contain: `"admins"`})
			conformance.Check(t, p.base, conformance.Case{Path: "/admin", Token: tokens["OUTSIDER"], Status: 403, Code: core.CodeForbidden})
		})
	}
}

// TestConfigurationErrors: with any CF_ACCESS_ variable set, even wrongly, there is no demo:
// the example stops with an error that names the variable to fix, and never quotes the
// secrets it was given.
func TestConfigurationErrors(t *testing.T) {
	key := strings.Repeat("ab", 32)
	// Not hex, and distinctive: no error holds any of it unless it quotes the key.
	notHex := "not-hex-" + strings.Repeat("Zq", 28)
	const password = "Sw0rdf1sh-horse-staple"
	for _, fw := range frameworks {
		for _, c := range []struct {
			env     []string
			want    []string // fragments of the output
			secrets []string // never in the output
		}{
			{env: []string{"CF_ACCESS_TEAM_DOMAIN="}, want: []string{"CF_ACCESS_TEAM_DOMAIN is not set"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN= \t"}, want: []string{"CF_ACCESS_TEAM_DOMAIN is not set"}},
			// A deployment that lost its team domain fails, rather than trust a demo's.
			{env: []string{"CF_ACCESS_AUD=x"}, want: []string{"CF_ACCESS_TEAM_DOMAIN is not set"}},
			{env: []string{"CF_ACCESS_REDIS_URL=redis://127.0.0.1:6379", "CF_ACCESS_CACHE_KEY=" + key},
				want: []string{"CF_ACCESS_TEAM_DOMAIN is not set"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam"}, want: []string{"CF_ACCESS_AUD is not set"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD= , "}, want: []string{"CF_ACCESS_AUD is not set"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=http://myteam.cloudflareaccess.com", "CF_ACCESS_AUD=x"},
				want: []string{"CF_ACCESS_TEAM_DOMAIN", "invalid configuration", "use https"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam.cloudflareaccess.com/cdn-cgi/access/certs", "CF_ACCESS_AUD=x"},
				want: []string{"CF_ACCESS_TEAM_DOMAIN", "no path"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=aaa bbb"}, want: []string{"CF_ACCESS_AUD", "white space"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_HOST_AUD=app.example.com"},
				want: []string{"CF_ACCESS_HOST_AUD", "host=AUD"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=redis://127.0.0.1:6379"},
				want: []string{"CF_ACCESS_CACHE_KEY is not set", "openssl rand -hex 32"}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_CACHE_KEY=" + key},
				want: []string{"CF_ACCESS_REDIS_URL is not set"}, secrets: []string{key}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=http://127.0.0.1:6379", "CF_ACCESS_CACHE_KEY=" + key},
				want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{key}},
			// host:port, as a go-redis Options.Addr is written, is no URL.
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=127.0.0.1:6379", "CF_ACCESS_CACHE_KEY=" + key},
				want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{key}},
			// URLs with a password that do not parse: as a URL (the port), and as go-redis's (the
			// database).
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=redis://cfaccess:" + password + "@127.0.0.1:63x79", "CF_ACCESS_CACHE_KEY=" + key},
				want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{password, key}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=redis://cfaccess:" + password + "@127.0.0.1:6379/zero", "CF_ACCESS_CACHE_KEY=" + key},
				want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{password, key}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=redis://127.0.0.1:6379", "CF_ACCESS_CACHE_KEY=" + notHex},
				want: []string{"CF_ACCESS_CACHE_KEY is not hex"}, secrets: []string{notHex[:8], notHex[8:]}},
			{env: []string{"CF_ACCESS_TEAM_DOMAIN=myteam", "CF_ACCESS_AUD=x", "CF_ACCESS_REDIS_URL=redis://127.0.0.1:6379", "CF_ACCESS_CACHE_KEY=" + key[:32]},
				want: []string{"CF_ACCESS_CACHE_KEY is 16 bytes", "at least 32"}, secrets: []string{key[:32]}},
			// Demo mode's own address, refused before its banner.
			{env: []string{"ADDR=127.0.0.1:notaport"}, want: []string{"ADDR"}},
		} {
			t.Run(fw+"/"+strings.Join(c.env, "&"), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, filepath.Join(binDir, fw))
				cmd.Env = append(cleanEnv(), append([]string{"ADDR=127.0.0.1:0"}, c.env...)...)
				out, err := cmd.CombinedOutput()
				if err == nil || strings.Contains(string(out), "DEMO") || strings.Contains(string(out), "listening") {
					t.Fatalf("err = %v, output:\n%s", err, out)
				}
				for _, want := range c.want {
					if !strings.Contains(string(out), want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				for _, secret := range c.secrets {
					if strings.Contains(string(out), secret) {
						t.Errorf("the error quotes a secret, %q:\n%s", secret, out)
					}
				}
				if strings.Contains(string(out), "Audiences") || strings.Contains(string(out), "TeamDomain") {
					t.Errorf("the error names a Go field rather than the variable:\n%s", out)
				}
			})
		}
	}
}

// TestMainIsFrameworkCode: each main.go holds its framework's code only, the routes behind
// the adapter's middleware; the wiring a user copies, from the environment to the verifier,
// is package wiring's (core.ConfigFromEnv, redisstore.FromEnv, core.NewVerifier), and demo
// mode and serving are package demo's, reached through demo.Run alone.
func TestMainIsFrameworkCode(t *testing.T) {
	for _, fw := range frameworks {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(fw, "main.go"), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			switch p := strings.Trim(imp.Path.Value, `"`); p {
			case "os", "strings", "cmp", "encoding/hex", "github.com/redis/go-redis/v9",
				"github.com/cfaccess/cfaccess/core/redisstore", "github.com/cfaccess/cfaccess/core/otelaccess":
				t.Errorf("%s/main.go imports %s: the wiring and the library read the environment", fw, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if pkg, _ := n.X.(*ast.Ident); pkg != nil && pkg.Name == "demo" && n.Sel.Name != "Run" && n.Sel.Name != "Example" {
					t.Errorf("%s/main.go uses demo.%s: only demo.Run belongs there", fw, n.Sel.Name)
				}
				if pkg, _ := n.X.(*ast.Ident); pkg != nil && pkg.Name == "core" && n.Sel.Name != "Verifier" {
					t.Errorf("%s/main.go uses core.%s: the wiring is package wiring's", fw, n.Sel.Name)
				}
			case *ast.BasicLit:
				if v := strings.Trim(n.Value, `"`); strings.HasPrefix(v, "CF_ACCESS_") || v == "ADDR" || v == "ADMIN_GROUP" || v == "METRICS_ADDR" {
					t.Errorf("%s/main.go names the variable %s", fw, v)
				}
			}
			return true
		})
	}
	// The wiring to copy: the environment, then the verifier.
	src, err := os.ReadFile(filepath.Join("wiring", "wiring.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"core.ConfigFromEnv()", "redisstore.FromEnv()", "core.NewVerifier(cfg)"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("wiring/wiring.go does not call %s", want)
		}
	}
}
