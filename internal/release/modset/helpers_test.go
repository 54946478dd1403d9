package modset_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/internal/release/modset"
)

// layout is a repository shaped like this one: a root module, an adapter, a module nested
// inside the adapter's directory, examples and an internal tool, each requiring the library
// modules at v0.1.0 and replacing them with their directories, and a command module, which
// requires them with no replace and builds through go.work. It has no dependency outside
// itself, so that every go command the tests run works offline.
func layout() map[string]string {
	return map[string]string{
		".gitignore": "*.bin\n",
		"LICENSE":    "the license\n",
		"go.work":    "go 1.25.0\n\nuse (\n\t.\n\t./adapter\n\t./adapter/nested\n\t./cmd/hello\n\t./examples\n\t./internal/tool\n)\n",
		"go.mod":     "module example.com/lib\n\ngo 1.25.0\n",
		"core/core.go": "// Package core greets.\npackage core\n\n" +
			"// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
		"core/testdata/data.txt":            "test data ships in the zip\n",
		"core/testdata/fixture/go.mod":      "module fixture\n\ngo 1.25.0\n",
		"core/testdata/fixture/fixture.go":  "package fixture\n",
		"internal/shared/shared.go":         "package shared\n\n// Name is shared.\nconst Name = \"shared\"\n",
		"cmd/tool/main.go":                  "package main\n\nfunc main() {}\n",
		"adapter/go.mod":                    goMod("adapter", "example.com/lib"),
		"adapter/adapter.go":                source("adapter", "example.com/lib/core", "example.com/lib/internal/shared"),
		"adapter/vendor/example.com/v/v.go": "package v\n",
		"adapter/nested/go.mod":             goMod("adapter/nested", "example.com/lib"),
		"adapter/nested/nested.go":          source("nested", "example.com/lib/core"),
		"examples/go.mod":                   goMod("examples", "example.com/lib", "example.com/lib/adapter", "example.com/lib/adapter/nested"),
		"examples/main.go":                  source("main", "example.com/lib/core", "example.com/lib/adapter", "example.com/lib/adapter/nested"),
		"internal/tool/go.mod":              "module example.com/lib/internal/tool\n\ngo 1.25.0\n",
		"internal/tool/main.go":             "package main\n\nfunc main() {}\n",
		// No go.sum: its only dependencies are library modules.
		"cmd/hello/go.mod":       commandGoMod,
		"cmd/hello/main.go":      commandMain,
		"cmd/hello/main_test.go": commandTest("hello"),
	}
}

// commandGoMod is the tidy go.mod of the command module cmd/hello.
const commandGoMod = "module example.com/lib/cmd/hello\n\ngo 1.25.0\n\n" +
	"require (\n\texample.com/lib v0.1.0\n\texample.com/lib/adapter v0.1.0\n)\n"

// commandMain is the command of cmd/hello: -h prints its usage and succeeds.
const commandMain = `// Command hello greets.
package main

import (
	"flag"
	"fmt"

	_ "example.com/lib/adapter"
	"example.com/lib/core"
)

func main() {
	flag.Usage = func() { fmt.Fprintln(flag.CommandLine.Output(), "usage: hello, which says", core.Hello()) }
	flag.Parse()
	fmt.Println(core.Hello())
}
`

// commandTest returns a test of cmd/hello that wants core.Hello to say want, and reads a
// file of another module of the repository.
func commandTest(want string) string {
	return `package main

import (
	"os"
	"testing"

	"example.com/lib/core"
)

func TestHello(t *testing.T) {
	if got := core.Hello(); got != "` + want + `" {
		t.Fatalf("core.Hello() = %q, want %q", got, "` + want + `")
	}
	if _, err := os.Stat("../../core/testdata/data.txt"); err != nil {
		t.Fatal(err)
	}
}
`
}

// goMod returns the tidy go.mod of the module in dir that requires the library modules
// reqs at v0.1.0 and replaces each with its directory.
func goMod(dir string, reqs ...string) string {
	up := strings.Repeat("../", strings.Count(dir, "/")+1)
	var require, replace []string
	for _, r := range reqs {
		require = append(require, r+" v0.1.0")
		replace = append(replace, r+" => "+strings.TrimSuffix(up+strings.TrimPrefix(strings.TrimPrefix(r, "example.com/lib"), "/"), "/"))
	}
	return "module example.com/lib/" + dir + "\n\ngo 1.25.0\n\n" + directive("require", require) + "\n" + directive("replace", replace)
}

func directive(verb string, lines []string) string {
	if len(lines) == 1 {
		return verb + " " + lines[0] + "\n"
	}
	return verb + " (\n\t" + strings.Join(lines, "\n\t") + "\n)\n"
}

// source returns a Go file of package pkg that uses each of the packages imports.
func source(pkg string, imports ...string) string {
	var b strings.Builder
	b.WriteString("package " + pkg + "\n\nimport (\n")
	for _, imp := range imports {
		b.WriteString("\t_ \"" + imp + "\"\n")
	}
	b.WriteString(")\n")
	return b.String()
}

// newRepo writes files into a new git repository, commits them and opens it.
func newRepo(t *testing.T, files map[string]string) *modset.Repo {
	t.Helper()
	// The go commands run on the repository must never need the network.
	t.Setenv("GOPROXY", "off")
	dir := t.TempDir()
	write(t, dir, files)
	gitIn(t, dir, "init", "--quiet")
	commit(t, dir)
	return open(t, dir)
}

func open(t *testing.T, dir string) *modset.Repo {
	t.Helper()
	r, err := modset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// write writes files into dir; an empty content removes the file.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		name = filepath.Join(dir, filepath.FromSlash(name))
		if data == "" {
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func commit(t *testing.T, dir string) {
	t.Helper()
	gitIn(t, dir, "add", "--all")
	gitIn(t, dir, "commit", "--quiet", "--allow-empty", "--message", "change")
}

// gitIn runs git in dir as a committer of its own, whatever the machine's configuration.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=Release Test", "-c", "user.email=release@example.com",
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main",
	}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func read(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func wantError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}
