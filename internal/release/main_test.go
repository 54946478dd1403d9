package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newCheckout makes a small releasable repository and changes into it.
func newCheckout(t *testing.T) string {
	t.Helper()
	t.Setenv("GOPROXY", "off")
	dir := t.TempDir()
	for name, data := range map[string]string{
		"go.work":              "go 1.25.0\n\nuse (\n\t.\n\t./adapter\n\t./cmd/tool\n\t./internal/tool\n)\n",
		"go.mod":               "module example.com/lib\n\ngo 1.25.0\n",
		"core/core.go":         "package core\n",
		"adapter/go.mod":       "module example.com/lib/adapter\n\ngo 1.25.0\n\nrequire example.com/lib v0.1.0\n\nreplace example.com/lib => ..\n",
		"adapter/adapter.go":   "package adapter\n\nimport _ \"example.com/lib/core\"\n",
		"internal/tool/go.mod": "module example.com/lib/internal/tool\n\ngo 1.25.0\n",
		// A command module: no replace, built through go.work.
		"cmd/tool/go.mod":  "module example.com/lib/cmd/tool\n\ngo 1.25.0\n\nrequire example.com/lib v0.1.0\n",
		"cmd/tool/main.go": "package main\n\nimport _ \"example.com/lib/core\"\n\nfunc main() {}\n",
	} {
		name = filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "--quiet"}, {"add", "--all"}, {"commit", "--quiet", "--message", "init"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	t.Chdir(dir)
	return dir
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr strings.Builder
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestCommands(t *testing.T) {
	newCheckout(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"modules"}, ".\nadapter\ncmd/tool\n"},
		{[]string{"modules", "-paths"}, "example.com/lib\nexample.com/lib/adapter\nexample.com/lib/cmd/tool\n"},
		{[]string{"modules", "-all"}, ".\nadapter\ncmd/tool\ninternal/tool\n"},
		{[]string{"modules", "-commands"}, "cmd/tool\n"},
		{[]string{"modules", "-commands", "-paths"}, "example.com/lib/cmd/tool\n"},
		{[]string{"version"}, "v0.1.0\n"},
		{[]string{"check"}, "ok: the checkout can be released\n"},
		{[]string{"check", "v0.1.0"}, "ok: the checkout can be released\n"},
		{[]string{"tidy"}, ""},
		{[]string{"tags", "v0.1.0"}, "v0.1.0\nadapter/v0.1.0\ncmd/tool/v0.1.0\n"},
	} {
		stdout, stderr, err := runCLI(t, c.args...)
		if err != nil || stdout != c.want {
			t.Errorf("release %s: %q, %v; want %q\n%s", strings.Join(c.args, " "), stdout, err, c.want, stderr)
		}
	}
}

func TestTagsCreate(t *testing.T) {
	dir := newCheckout(t)
	stdout, stderr, err := runCLI(t, "tags", "-create", "v0.1.0")
	if err != nil || stdout != "v0.1.0\nadapter/v0.1.0\ncmd/tool/v0.1.0\n" {
		t.Fatalf("tags -create: %q, %v", stdout, err)
	}
	if !strings.Contains(stderr, "git push origin v0.1.0 adapter/v0.1.0 cmd/tool/v0.1.0") {
		t.Errorf("no push command on stderr: %q", stderr)
	}
	out, err := exec.Command("git", "-C", dir, "tag", "--list").Output()
	if err != nil || string(out) != "adapter/v0.1.0\ncmd/tool/v0.1.0\nv0.1.0\n" {
		t.Errorf("git tag --list: %q, %v", out, err)
	}
}

func TestSetThenPublish(t *testing.T) {
	dir := newCheckout(t)
	stdout, _, err := runCLI(t, "set", "v0.2.0")
	if err != nil || stdout != "adapter/go.mod\ncmd/tool/go.mod\n" {
		t.Fatalf("set v0.2.0: %q, %v", stdout, err)
	}
	if _, _, err := runCLI(t, "publish", "-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "uncommitted") {
		t.Errorf("publish with the change uncommitted: %v", err)
	}
	for _, args := range [][]string{{"add", "--all"}, {"-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "--message", "v0.2.0"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	proxy := t.TempDir()
	stdout, _, err = runCLI(t, "publish", "-dir", proxy)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "example.com/lib@v0.2.0 h1:") || !strings.HasPrefix(lines[1], "example.com/lib/adapter@v0.2.0 h1:") ||
		!strings.HasPrefix(lines[2], "example.com/lib/cmd/tool@v0.2.0 h1:") {
		t.Errorf("publish printed %q, want each module at the version the go.mod files require, with its hash", stdout)
	}
	if _, err := os.Stat(filepath.Join(proxy, "example.com", "lib", "adapter", "@v", "v0.2.0.zip")); err != nil {
		t.Error(err)
	}
}

func TestBadCommandLines(t *testing.T) {
	newCheckout(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "see the usage above"},
		{[]string{"release"}, `unknown command "release"`},
		{[]string{"set"}, "set takes a version"},
		{[]string{"tags"}, "tags takes a version"},
		{[]string{"version", "v0.1.0"}, "version takes no argument"},
		{[]string{"check", "v0.1.0", "v0.2.0"}, "check takes at most a version"},
		{[]string{"modules", "-create"}, "flag provided but not defined: -create"},
		{[]string{"publish"}, "publish: where to? (-dir)"},
		{[]string{"modules", "-all", "-commands"}, "-all or -commands, not both"},
		{[]string{"tidy", "v0.1.0"}, "tidy takes no argument"},
		{[]string{"test-commands", "v0.1.0", "v0.2.0"}, "test-commands takes at most a version"},
		{[]string{"set", "0.2.0"}, "not a canonical semantic version"},
		{[]string{"check", "v0.2.0"}, "require the library modules at v0.1.0, not v0.2.0"},
	} {
		_, stderr, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("release %s: %v, want an error saying %q", strings.Join(c.args, " "), err, c.want)
		}
		if errors.Is(err, errUsage) && !strings.Contains(stderr, "Usage: go run ./internal/release") {
			t.Errorf("release %s: no usage on stderr", strings.Join(c.args, " "))
		}
	}
}

func TestTestCommands(t *testing.T) {
	newCheckout(t)
	stdout, stderr, err := runCLI(t, "test-commands")
	if err != nil || !strings.Contains(stdout, "$ go test -count=1 ./...\n") ||
		!strings.HasSuffix(stdout, "ok: every command module passes its tests on its own, against the library modules published at v0.1.0\n") {
		t.Errorf("test-commands: %v\n%s%s", err, stdout, stderr)
	}
}

func TestHelp(t *testing.T) {
	newCheckout(t)
	_, stderr, err := runCLI(t, "smoke", "-h")
	if err != nil || !strings.Contains(stderr, "Usage:") {
		t.Errorf("smoke -h: %v, %q", err, stderr)
	}
}

// TestConsumerRunsAgainstTheCheckout runs the program that smoke builds against the published
// modules, here against the workspace's, so that a change of the library's API that the
// program does not follow shows before a release does: smoke publishes what is committed.
func TestConsumerRunsAgainstTheCheckout(t *testing.T) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatal(err)
	}
	if work := strings.TrimSpace(string(out)); work == "" || work == "off" {
		t.Skip("SKIPPED: not in the repository's workspace, where the program finds the library modules (GOWORK is off)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./testdata/consumer")
	cmd.Env = append(os.Environ(), "CF_ACCESS_REDIS_URL=redis://127.0.0.1:1", "CF_ACCESS_CACHE_KEY=00")
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the consumer: %v\n%s", err, out)
	}
	for _, want := range []string{"GET /whoami: 200 ann@example.com", "GET /admin: 403"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the consumer's output lacks %q:\n%s", want, out)
		}
	}
}
