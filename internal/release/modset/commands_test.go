package modset_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/internal/release/modset"
)

// goIn runs the go command in dir with env added, and returns its combined output.
func goIn(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A command module has no replace: inside the repository, go.work points the go command at
// the library modules beside it, so it builds, tests and vets with no go.sum line for them
// and without a module proxy; on its own it needs the version it requires published.
func TestCommandModuleBuildsThroughTheWorkspace(t *testing.T) {
	r := newRepo(t, layout())
	dir := filepath.Join(r.Root, "cmd", "hello")
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}, {"test", "-count=1", "./..."}} {
		env := []string{"GOWORK=" + filepath.Join(r.Root, "go.work"), "GOFLAGS=-mod=readonly"}
		if out, err := goIn(t, dir, env, args...); err != nil {
			t.Errorf("go %s in the workspace: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := goIn(t, dir, []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, "build", "./...")
	if err == nil || !strings.Contains(out, "downloading example.com/lib v0.1.0") {
		t.Errorf("go build with GOWORK=off, before v0.1.0 is published: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("building in the workspace wrote a go.sum")
	}
}

func TestTidyMakesACommandModuleTidy(t *testing.T) {
	files := layout()
	// A require missing, a dependency gone, a library module's hash recorded.
	files["cmd/hello/go.mod"] = strings.Replace(commandGoMod, "\texample.com/lib/adapter v0.1.0\n", "", 1)
	files["cmd/hello/go.sum"] = "example.com/lib v0.1.0/go.mod h1:stale=\nexample.org/gone v1.0.0/go.mod h1:gone=\n"
	r := newRepo(t, files)
	ctx := context.Background()
	if err := r.Check(ctx, ""); err == nil {
		t.Fatal("the check passes on an untidy command module")
	}

	changed, err := r.Tidy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cmd/hello/go.mod", "cmd/hello/go.sum"}; !reflect.DeepEqual(changed, want) {
		t.Errorf("Tidy changed %v, want %v", changed, want)
	}
	if got := read(t, filepath.Join(r.Root, "cmd", "hello", "go.mod")); got != commandGoMod {
		t.Errorf("cmd/hello/go.mod after Tidy:\n%s\nwant\n%s", got, commandGoMod)
	}
	if _, err := os.Stat(filepath.Join(r.Root, "cmd", "hello", "go.sum")); err == nil {
		t.Errorf("cmd/hello/go.sum after Tidy:\n%s\nwant none: its only dependencies are library modules",
			read(t, filepath.Join(r.Root, "cmd", "hello", "go.sum")))
	}
	commit(t, r.Root)
	if err := open(t, r.Root).Check(ctx, ""); err != nil {
		t.Errorf("the check after Tidy: %v", err)
	}
	if changed, err := open(t, r.Root).Tidy(ctx); err != nil || len(changed) != 0 {
		t.Errorf("Tidy of a tidy checkout changed %v (%v)", changed, err)
	}
}

func TestTidyKeepsACommandModulesOwnReplaces(t *testing.T) {
	files := layout()
	files["cmd/hello/go.mod"] = commandGoMod + "\nreplace example.com/lib => ../..\n"
	r := newRepo(t, files)
	if _, err := r.Tidy(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Tidy changes nothing that it did not add; the check reports the replace.
	if got := read(t, filepath.Join(r.Root, "cmd", "hello", "go.mod")); got != files["cmd/hello/go.mod"] {
		t.Errorf("cmd/hello/go.mod after Tidy:\n%s\nwant\n%s", got, files["cmd/hello/go.mod"])
	}
}

func testCommands(t *testing.T, r *modset.Repo) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	var log strings.Builder
	err := r.TestCommands(context.Background(), modset.CommandTests{Version: "v0.1.0", Dir: dir, Log: &log})
	return dir, log.String(), err
}

func TestTestCommandsRunsTheTestsOfACommandOnItsOwn(t *testing.T) {
	r := newRepo(t, layout())
	dir, log, err := testCommands(t, r)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log, "ok  \texample.com/lib/cmd/hello") {
		t.Errorf("the log does not show the command's tests passing:\n%s", log)
	}
	// The copy of the commit, not the checkout, recorded the published modules' hashes.
	if sum := read(t, filepath.Join(dir, "src", "cmd", "hello", "go.sum")); !strings.Contains(sum, "example.com/lib v0.1.0 h1:") {
		t.Errorf("the copy's go.sum does not record the published module:\n%s", sum)
	}
	if _, err := os.Stat(filepath.Join(r.Root, "cmd", "hello", "go.sum")); err == nil {
		t.Error("testing the commands wrote a go.sum into the checkout")
	}
	if status := gitIn(t, r.Root, "status", "--porcelain"); status != "" {
		t.Errorf("testing the commands changed the checkout:\n%s", status)
	}
}

func TestTestCommandsFails(t *testing.T) {
	t.Run("a failing test", func(t *testing.T) {
		files := layout()
		files["cmd/hello/main_test.go"] = commandTest("goodbye")
		_, log, err := testCommands(t, newRepo(t, files))
		wantError(t, err, "the tests of cmd/hello, on its own against the published library modules")
		if !strings.Contains(log, `core.Hello() = "hello", want "goodbye"`) {
			t.Errorf("the log does not show the failure:\n%s", log)
		}
	})
	t.Run("uncommitted changes", func(t *testing.T) {
		r := newRepo(t, layout())
		write(t, r.Root, map[string]string{"core/core.go": "package core\n"})
		_, _, err := testCommands(t, r)
		wantError(t, err, "publishing serves what is committed")
	})
}
