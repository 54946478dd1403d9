package devproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/devproxy"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

type startup struct {
	Listen      string            `json:"listen"`
	TeamDomain  string            `json:"team_domain"`
	AUD         string            `json:"aud"`
	Upstream    string            `json:"upstream"`
	AppURL      string            `json:"app_url"`
	SwitcherURL string            `json:"switcher_url"`
	Identity    devproxy.Identity `json:"identity"`
}

// TestRun starts the subcommand as the binary would, reads where it listens from its
// -json output, uses it, and stops it by cancelling its context.
func TestRun(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Cf-Access-Authenticated-User-Email"))
	}))
	defer app.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr testkit.LogBuffer // written by the server's goroutines
	done := make(chan int, 1)
	go func() {
		defer pw.Close()
		done <- devproxy.Run(ctx, cli.Env{Stdout: pw, Stderr: &stderr, Getenv: func(k string) string {
			return map[string]string{core.EnvAudiences: "from-env, other"}[k]
		}}, []string{"-listen", "127.0.0.1:0", "-upstream", app.URL, "-email", "ann@example.com", "-groups", "admins", "-idp", "okta", "-json"})
	}()
	var s startup
	if err := json.NewDecoder(pr).Decode(&s); err != nil {
		t.Fatalf("start-up output: %v (exit %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	if s.TeamDomain != "http://"+s.Listen || s.AUD != "from-env" || s.AppURL != s.TeamDomain+"/" ||
		s.SwitcherURL != s.TeamDomain+"/cdn-cgi/access/dev" || s.Identity.Email != "ann@example.com" || s.Identity.IdP != accesstest.Okta {
		t.Fatalf("start-up %+v", s)
	}
	resp, err := http.Get(s.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ann@example.com" {
		t.Errorf("the application saw %q", body)
	}

	cancel()
	select {
	case code := <-done:
		if code != cli.ExitOK {
			t.Errorf("exit status %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cfaccess dev did not stop")
	}
}

func TestRunText(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		defer pw.Close()
		done <- devproxy.Run(ctx, cli.Env{Stdout: pw, Stderr: io.Discard}, []string{"-listen", "127.0.0.1:0", "-upstream", "127.0.0.1:9", "-aud", "myapp"})
	}()
	var out strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "Ctrl-C") {
		n, err := pr.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("%v after %q", err, out.String())
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != cli.ExitOK {
		t.Errorf("exit status %d", code)
	}
	for _, want := range []string{"in front of http://127.0.0.1:9", "CF_ACCESS_TEAM_DOMAIN=http://127.0.0.1:", "CF_ACCESS_AUD=myapp", "/cdn-cgi/access/dev", "dev@example.com (no groups; Google Workspace)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour on a pipe:\n%q", out.String())
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no upstream", []string{"-aud", "a"}, "-upstream: required"},
		{"bad upstream", []string{"-aud", "a", "-upstream", "ftp://x"}, "scheme must be http or https"},
		{"no aud", []string{"-upstream", "http://127.0.0.1:8080"}, "-aud is required"},
		{"bad aud", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a b"}, "-aud"},
		{"bad email", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "-email", "ann"}, "-email"},
		{"bad client ID", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "-service-token", "abc"}, "-service-token"},
		{"bad idp", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "-idp", "myspace"}, "unknown identity provider"},
		{"bad group", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "-groups", "ok,\x01"}, "-groups: group"},
		{"not loopback", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "-listen", "192.0.2.1:8787"}, "not a loopback address"},
		{"bad listen", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "-listen", "8787"}, "-listen"},
		{"itself", []string{"-upstream", "http://localhost:8787", "-aud", "a", "-listen", "127.0.0.1:8787"}, "this proxy itself"},
		{"argument", []string{"-upstream", "http://127.0.0.1:8080", "-aud", "a", "extra"}, "unexpected argument"},
		{"unknown flag", []string{"-port", "1"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := devproxy.Run(context.Background(), cli.Env{Stdout: &stdout, Stderr: &stderr}, tc.args)
			if code != cli.ExitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout bytes.Buffer
	code := devproxy.Run(context.Background(), cli.Env{Stdout: &stdout, Stderr: io.Discard}, []string{"-h"})
	if code != cli.ExitOK {
		t.Errorf("exit %d", code)
	}
	for _, want := range []string{"usage: cfaccess dev", "-upstream", "-service-token", "example:", "cfaccess dev -upstream http://127.0.0.1:8080 -aud myapp"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, stdout.String())
		}
	}
}
