package modset_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/mod/module"

	"github.com/cfaccess/cfaccess/internal/release/modset"
)

// program is a user's program for the layout: it exits non-zero on a wrong answer.
func program(want string) fstest.MapFS {
	return fstest.MapFS{"main.go": {Data: []byte(`package main

import (
	"fmt"
	"os"

	"example.com/lib/core"
)

func main() {
	if got := core.Hello(); got != "` + want + `" {
		fmt.Println("core.Hello() =", got)
		os.Exit(1)
	}
	fmt.Println("the consumer works")
}
`)}}
}

func smoke(t *testing.T, r *modset.Repo, p fstest.MapFS) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	var log strings.Builder
	err := r.Smoke(context.Background(), modset.Smoke{Version: "v0.1.0", Program: p, Dir: dir, Log: &log})
	return dir, log.String(), err
}

func TestSmokeBuildsAFreshModuleAgainstThePublishedOnes(t *testing.T) {
	r := newRepo(t, layout())
	dir, log, err := smoke(t, r, program("hello"))
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, want := range []string{
		"$ go get example.com/lib@v0.1.0 example.com/lib/adapter@v0.1.0 example.com/lib/adapter/nested@v0.1.0 example.com/lib/cmd/hello@v0.1.0\n",
		"the consumer works\n",
		"published example.com/lib/adapter/nested@v0.1.0 h1:",
		"published example.com/lib/cmd/hello@v0.1.0 h1:",
		"imports.go imports example.com/lib/adapter example.com/lib/adapter/nested example.com/lib/core\n",
		// The command module, and a command of the root module, installed as a user does
		// and run; hello says what the published core says.
		"$ go install example.com/lib/cmd/hello@v0.1.0\n",
		"/bin/hello -h\nusage: hello, which says hello\n",
		"$ go install example.com/lib/cmd/tool@v0.1.0\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
	imports := read(t, filepath.Join(dir, "consumer", "imports.go"))
	for _, want := range []string{`_ "example.com/lib/adapter"`, `_ "example.com/lib/adapter/nested"`, `_ "example.com/lib/core"`} {
		if !strings.Contains(imports, want) {
			t.Errorf("imports.go lacks %s:\n%s", want, imports)
		}
	}
	for _, unwanted := range []string{"internal", "cmd/tool"} {
		if strings.Contains(imports, unwanted) {
			t.Errorf("imports.go imports %s, which a user cannot import:\n%s", unwanted, imports)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "hello")); err != nil {
		t.Errorf("the command was not installed: %v", err)
	}
	goMod := read(t, filepath.Join(dir, "consumer", "go.mod"))
	if strings.Contains(goMod, "replace") || !strings.Contains(goMod, "example.com/lib/adapter/nested v0.1.0") {
		t.Errorf("the fresh module's go.mod:\n%s", goMod)
	}
}

// Smoke run again in the same directory, emptied, on another commit, sees that commit's
// packages: the go command's index of a module cache, which outlives it, is keyed by
// directory and takes a version's contents for immutable.
func TestSmokeAgainInTheSameDirectory(t *testing.T) {
	r := newRepo(t, layout())
	dir := filepath.Join(t.TempDir(), "smoke")
	for i, want := range []string{"hello", "changed"} {
		if i > 0 {
			// A file more, which a stale index would leave out of the package.
			write(t, r.Root, map[string]string{
				"core/core.go":  "// Package core greets.\npackage core\n\n// Hello greets.\nfunc Hello() string { return greeting() }\n",
				"core/extra.go": "package core\n\nfunc greeting() string { return \"changed\" }\n",
			})
			commit(t, r.Root)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
		var log strings.Builder
		if err := r.Smoke(context.Background(), modset.Smoke{Version: "v0.1.0", Program: program(want), Dir: dir, Log: &log}); err != nil {
			t.Fatalf("smoke %d: %v\n%s", i+1, err, log.String())
		}
	}
}

func TestSmokeFails(t *testing.T) {
	t.Run("modules requiring a version that is not released", func(t *testing.T) {
		files := layout()
		for name, data := range files {
			files[name] = strings.ReplaceAll(data, "v0.1.0", "v0.0.0")
		}
		_, _, err := smoke(t, newRepo(t, files), program("hello"))
		wantError(t, err, "go get example.com/lib/adapter@v0.1.0", "example.com/lib v0.0.0")
	})
	t.Run("a wrong answer", func(t *testing.T) {
		_, log, err := smoke(t, newRepo(t, layout()), program("goodbye"))
		wantError(t, err, "the program built against the published modules failed")
		if !strings.Contains(log, `core.Hello() = hello`) {
			t.Errorf("the log does not show the program's output:\n%s", log)
		}
	})
	t.Run("a module with nothing to import", func(t *testing.T) {
		files := layout()
		delete(files, "adapter/nested/nested.go")
		files["adapter/nested/internal/hidden/hidden.go"] = "package hidden\n"
		_, _, err := smoke(t, newRepo(t, files), program("hello"))
		wantError(t, err, "module example.com/lib/adapter/nested brings no package a user can import, nor a command")
	})
	t.Run("a command module with a replace directive", func(t *testing.T) {
		// What the check refuses, because go install refuses it.
		files := layout()
		files["cmd/hello/go.mod"] += "\nreplace example.com/lib => ../..\n"
		_, _, err := smoke(t, newRepo(t, files), program("hello"))
		wantError(t, err, "go install example.com/lib/cmd/hello@v0.1.0",
			"contains one or\n\tmore replace directives")
	})
	t.Run("a command whose -h fails", func(t *testing.T) {
		files := layout()
		files["cmd/hello/main.go"] = "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(2) }\n"
		_, log, err := smoke(t, newRepo(t, files), program("hello"))
		wantError(t, err, "example.com/lib/cmd/hello -h, installed from the published modules: exit status 2")
		if !strings.Contains(log, "$ go install example.com/lib/cmd/hello@v0.1.0\n") {
			t.Errorf("the log does not show the install:\n%s", log)
		}
	})
	t.Run("a program with its own go.mod", func(t *testing.T) {
		p := program("hello")
		p["go.mod"] = &fstest.MapFile{Data: []byte("module mine\n")}
		_, _, err := smoke(t, newRepo(t, layout()), p)
		wantError(t, err, "brings its own go.mod")
	})
}

func TestCheckSumsRefusesWhatWasNotPublished(t *testing.T) {
	published := []modset.Published{
		{Version: module.Version{Path: "example.com/lib", Version: "v0.1.0"}, Sum: "h1:zip=", GoModSum: "h1:mod="},
		{Version: module.Version{Path: "example.com/lib/adapter", Version: "v0.1.0"}, Sum: "h1:azip=", GoModSum: "h1:amod="},
	}
	goSum := filepath.Join(t.TempDir(), "go.sum")
	check := func(lines ...string) error {
		if err := os.WriteFile(goSum, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return modset.CheckSums(goSum, published)
	}
	exact := []string{
		"example.com/lib v0.1.0 h1:zip=", "example.com/lib v0.1.0/go.mod h1:mod=",
		"example.com/lib/adapter v0.1.0 h1:azip=", "example.com/lib/adapter v0.1.0/go.mod h1:amod=",
		"example.org/dependency v1.0.0 h1:other=",
	}
	if err := check(exact...); err != nil {
		t.Fatalf("the published sums: %v", err)
	}
	wantError(t, check(append(exact[1:], "example.com/lib v0.1.0 h1:stale=")...),
		"go.sum holds example.com/lib v0.1.0 h1:stale=, not the published h1:zip=")
	wantError(t, check(append(exact, "example.com/lib v0.0.0/go.mod h1:old=")...),
		"go.sum holds example.com/lib v0.0.0/go.mod, which was not published")
	wantError(t, check(exact[1:]...), "go.sum lacks example.com/lib v0.1.0: the module was not downloaded")
}

func TestCommandNameIsTheExecutableGoInstallMakes(t *testing.T) {
	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	for pkg, want := range map[string]string{
		"example.com/lib/cmd/hello":    "hello",
		"example.com/lib/cmd/hello/v2": "hello",
		"example.com/tool/v10":         "tool",
		"example.com/lib/cmd/v":        "v",
		"example.com/lib/cmd/v2x":      "v2x",
	} {
		if got := modset.CommandName(pkg); got != want+exe {
			t.Errorf("CommandName(%q) = %q, want %q", pkg, got, want+exe)
		}
	}
}
