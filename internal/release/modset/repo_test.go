package modset_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/cfaccess/cfaccess/internal/release/modset"
)

func TestOpenDiscoversEveryModule(t *testing.T) {
	r := newRepo(t, layout())
	// A module not committed yet is a module all the same.
	write(t, r.Root, map[string]string{"store/go.mod": "module example.com/lib/store\n\ngo 1.25.0\n"})
	r = open(t, r.Root)

	type mod struct {
		Dir, Path        string
		Library, Command bool
	}
	var got []mod
	for _, m := range r.Modules {
		got = append(got, mod{m.Dir, m.Path, m.Library, m.Command})
	}
	want := []mod{
		{".", "example.com/lib", true, false},
		{"adapter", "example.com/lib/adapter", true, false},
		{"adapter/nested", "example.com/lib/adapter/nested", true, false},
		{"cmd/hello", "example.com/lib/cmd/hello", true, true},
		{"examples", "example.com/lib/examples", false, false},
		{"internal/tool", "example.com/lib/internal/tool", false, false},
		{"store", "example.com/lib/store", true, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("modules:\n got %v\nwant %v (core/testdata/fixture is a fixture, not a module)", got, want)
	}
	if libs := r.Libraries(); len(libs) != 5 || libs[0] != r.RootModule() {
		t.Errorf("Libraries() = %v, want the root module first and 5 in all", libs)
	}
	if cmds := r.Commands(); len(cmds) != 1 || cmds[0].Dir != "cmd/hello" {
		t.Errorf("Commands() = %v, want cmd/hello", cmds)
	}
	if got := r.RootModule().GoVersion(); got != "1.25.0" {
		t.Errorf("GoVersion() = %q, want 1.25.0", got)
	}
}

func TestOpenFromASubdirectory(t *testing.T) {
	r := newRepo(t, layout())
	sub := open(t, r.Root+"/adapter/nested")
	if sub.Root != r.Root || len(sub.Modules) != len(r.Modules) {
		t.Errorf("opened from a subdirectory: root %s with %d modules, want %s with %d",
			sub.Root, len(sub.Modules), r.Root, len(r.Modules))
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Run("not a checkout", func(t *testing.T) {
		_, err := modset.Open(context.Background(), t.TempDir())
		wantError(t, err, "not inside a git checkout")
	})
	t.Run("no root module", func(t *testing.T) {
		files := layout()
		delete(files, "go.mod")
		dir := t.TempDir()
		write(t, dir, files)
		gitIn(t, dir, "init", "--quiet")
		_, err := modset.Open(context.Background(), dir)
		wantError(t, err, "no go.mod at its root")
	})
	t.Run("a go.mod without a module directive", func(t *testing.T) {
		files := layout()
		files["adapter/go.mod"] = "go 1.25.0\n"
		dir := t.TempDir()
		write(t, dir, files)
		gitIn(t, dir, "init", "--quiet")
		_, err := modset.Open(context.Background(), dir)
		wantError(t, err, "adapter/go.mod: no module directive")
	})
}

func TestTagNames(t *testing.T) {
	r := newRepo(t, layout())
	for i, want := range []string{"v1.2.3", "adapter/v1.2.3", "adapter/nested/v1.2.3", "cmd/hello/v1.2.3"} {
		if got := r.Libraries()[i].Tag("v1.2.3"); got != want {
			t.Errorf("Tag = %q, want %q", got, want)
		}
	}
}
