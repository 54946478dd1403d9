package modset_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestVersionIsTheOneEveryGoModRequires(t *testing.T) {
	r := newRepo(t, layout())
	if got, err := r.Version(); err != nil || got != "v0.1.0" {
		t.Fatalf("Version() = %q, %v; want v0.1.0", got, err)
	}
	if n := len(r.Requirements()); n != 7 {
		t.Errorf("%d requirements of library modules, want 7: %v", n, r.Requirements())
	}
}

func TestVersionRefusesDisagreement(t *testing.T) {
	files := layout()
	files["adapter/nested/go.mod"] = strings.Replace(files["adapter/nested/go.mod"], "v0.1.0", "v0.0.0", 1)
	r := newRepo(t, files)
	_, err := r.Version()
	wantError(t, err, "different versions", "v0.0.0: adapter/nested → example.com/lib", "v0.1.0: adapter → example.com/lib")
}

func TestVersionNeedsARequirement(t *testing.T) {
	r := newRepo(t, map[string]string{"go.mod": "module example.com/lib\n\ngo 1.25.0\n"})
	_, err := r.Version()
	wantError(t, err, "no go.mod requires a library module")
}

func TestSetVersionRewritesEveryRequire(t *testing.T) {
	files := layout()
	// A pseudo-version, as go mod tidy writes for a replaced module it has no version for,
	// and a comment to keep.
	files["examples/go.mod"] = strings.Replace(files["examples/go.mod"],
		"example.com/lib/adapter v0.1.0", "example.com/lib/adapter v0.0.0-00010101000000-000000000000 // the adapter", 1)
	r := newRepo(t, files)

	changed, err := r.SetVersion("v0.2.0")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"adapter", "adapter/nested", "cmd/hello", "examples"}; !reflect.DeepEqual(changed, want) {
		t.Errorf("changed %v, want %v", changed, want)
	}
	if got, err := open(t, r.Root).Version(); err != nil || got != "v0.2.0" {
		t.Errorf("after SetVersion, Version() = %q, %v; want v0.2.0", got, err)
	}
	examples := read(t, filepath.Join(r.Root, "examples", "go.mod"))
	for _, want := range []string{
		"example.com/lib/adapter v0.2.0 // the adapter\n",
		"example.com/lib/adapter => ../adapter\n",
	} {
		if !strings.Contains(examples, want) {
			t.Errorf("examples/go.mod lost %q:\n%s", want, examples)
		}
	}
	// The command module's requires change, and it gains no replace.
	if got, want := read(t, filepath.Join(r.Root, "cmd", "hello", "go.mod")), strings.ReplaceAll(commandGoMod, "v0.1.0", "v0.2.0"); got != want {
		t.Errorf("cmd/hello/go.mod:\n%s\nwant\n%s", got, want)
	}
	if got := read(t, filepath.Join(r.Root, "go.mod")); got != files["go.mod"] {
		t.Errorf("the root go.mod, which requires no library module, was rewritten:\n%s", got)
	}

	changed, err = open(t, r.Root).SetVersion("v0.2.0")
	if err != nil || len(changed) != 0 {
		t.Errorf("setting the version already set changed %v (%v), want nothing", changed, err)
	}
}

func TestSetVersionRefusesWhatCannotBeReleased(t *testing.T) {
	r := newRepo(t, layout())
	for version, want := range map[string]string{
		"v0.0.0":                             "placeholder",
		"0.2.0":                              "not a canonical semantic version",
		"v0.2":                               "not a canonical semantic version",
		"v0.2.0+build":                       "not a canonical semantic version",
		"v0.0.0-20260101000000-0123456789ab": "pseudo-version",
		"v2.0.0":                             "v2",
	} {
		if _, err := r.SetVersion(version); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SetVersion(%q) = %v, want an error saying %q", version, err, want)
		}
	}
	if got, _ := open(t, r.Root).Version(); got != "v0.1.0" {
		t.Errorf("a refused version changed the go.mod files to %s", got)
	}
	if err := r.CheckVersion("v1.0.0-rc.1"); err != nil {
		t.Errorf("a pre-release is a release: %v", err)
	}
}
