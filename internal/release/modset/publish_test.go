package modset_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"
)

func TestPublishLaysOutAModuleProxy(t *testing.T) {
	r := newRepo(t, layout())
	// Ignored and untracked files are not part of a release.
	write(t, r.Root, map[string]string{"adapter/build.bin": "a build output"})
	proxy := t.TempDir()

	published, err := r.Publish(context.Background(), proxy, "v0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(published) != 4 {
		t.Fatalf("published %v, want the 4 library modules, the command module among them", published)
	}
	committed, err := time.Parse(time.RFC3339, gitIn(t, r.Root, "show", "--no-patch", "--format=%cI"))
	if err != nil {
		t.Fatal(err)
	}
	head := gitIn(t, r.Root, "rev-parse", "HEAD")

	wantFiles := map[string][]string{
		// Every committed file, as the go command takes them from a tag; but nested modules,
		// examples and internal/tool are modules of their own, and a fixture module inside
		// test data is left out while the rest of the test data ships.
		"example.com/lib": {".gitignore", "LICENSE", "cmd/tool/main.go", "core/core.go",
			"core/testdata/data.txt", "go.mod", "go.work", "internal/shared/shared.go"},
		// The root's LICENSE, copied; no vendored package, no ignored file.
		"example.com/lib/adapter":        {"LICENSE", "adapter.go", "go.mod"},
		"example.com/lib/adapter/nested": {"LICENSE", "go.mod", "nested.go"},
		"example.com/lib/cmd/hello":      {"LICENSE", "go.mod", "main.go", "main_test.go"},
	}
	for _, p := range published {
		v := filepath.Join(proxy, filepath.FromSlash(p.Path), "@v")
		if got := read(t, filepath.Join(v, "list")); got != "v0.1.0\n" {
			t.Errorf("%s list = %q", p.Path, got)
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(p.Path, "example.com/lib"), "/")
		if got, want := read(t, filepath.Join(v, "v0.1.0.mod")), read(t, filepath.Join(r.Root, dir, "go.mod")); got != want {
			t.Errorf("%s .mod = %q, want the committed go.mod %q", p.Path, got, want)
		}

		var info struct {
			Version string
			Time    time.Time
			Origin  struct{ VCS, Subdir, Hash string }
		}
		if err := json.Unmarshal([]byte(read(t, filepath.Join(v, "v0.1.0.info"))), &info); err != nil {
			t.Fatal(err)
		}
		if info.Version != "v0.1.0" || !info.Time.Equal(committed) || info.Origin.Hash != head || info.Origin.Subdir != dir {
			t.Errorf("%s .info = %+v, want v0.1.0 committed at %s from %s in %q", p.Path, info, committed, head, dir)
		}

		zipName := filepath.Join(v, "v0.1.0.zip")
		if got := zipFiles(t, zipName, p.Path+"@v0.1.0/"); !reflect.DeepEqual(got, wantFiles[p.Path]) {
			t.Errorf("%s zip holds %v, want %v", p.Path, got, wantFiles[p.Path])
		}
		if sum, err := dirhash.HashZip(zipName, dirhash.Hash1); err != nil || sum != p.Sum || !strings.HasPrefix(sum, "h1:") {
			t.Errorf("%s Sum = %s, want the zip's %s (%v)", p.Path, p.Sum, sum, err)
		}
		if !strings.HasPrefix(p.GoModSum, "h1:") {
			t.Errorf("%s GoModSum = %q", p.Path, p.GoModSum)
		}
	}
}

func zipFiles(t *testing.T, name, prefix string) []string {
	t.Helper()
	zr, err := zip.OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var files []string
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, prefix) {
			t.Errorf("%s: %s is outside %s", name, f.Name, prefix)
		}
		files = append(files, strings.TrimPrefix(f.Name, prefix))
	}
	sort.Strings(files)
	return files
}

func TestPublishAddsVersionsAndNeverChangesOne(t *testing.T) {
	r := newRepo(t, layout())
	ctx := context.Background()
	proxy := t.TempDir()
	for _, v := range []string{"v0.2.0", "v0.1.0"} {
		if _, err := r.Publish(ctx, proxy, v); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, filepath.Join(proxy, "example.com", "lib", "adapter", "@v", "list")); got != "v0.1.0\nv0.2.0\n" {
		t.Errorf("list = %q, want both versions in order", got)
	}
	zipName := filepath.Join(proxy, "example.com", "lib", "@v", "v0.1.0.zip")
	before := read(t, zipName)

	write(t, r.Root, map[string]string{"core/core.go": "package core\n\n// Hello greets.\nfunc Hello() string { return \"changed\" }\n"})
	commit(t, r.Root)
	_, err := r.Publish(ctx, proxy, "v0.1.0")
	wantError(t, err, "v0.1.0 is published in", "never changes")
	if read(t, zipName) != before {
		t.Error("publishing a version again changed its zip")
	}
}

func TestPublishRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("uncommitted changes", func(t *testing.T) {
		r := newRepo(t, layout())
		write(t, r.Root, map[string]string{"core/core.go": "package core\n"})
		_, err := r.Publish(ctx, t.TempDir(), "v0.1.0")
		wantError(t, err, "publishing serves what is committed", "M core/core.go")
	})
	t.Run("a version that cannot be released", func(t *testing.T) {
		r := newRepo(t, layout())
		proxy := t.TempDir()
		_, err := r.Publish(ctx, proxy, "v0.0.0")
		wantError(t, err, "placeholder")
		if entries, _ := os.ReadDir(proxy); len(entries) != 0 {
			t.Errorf("a refused publish wrote %v", entries)
		}
	})
	t.Run("a file name a module zip cannot hold", func(t *testing.T) {
		files := layout()
		files["core/Data.txt"] = "collides with data.txt on case-insensitive file systems\n"
		files["core/data.txt"] = "data\n"
		r := newRepo(t, files)
		_, err := r.Publish(ctx, t.TempDir(), "v0.1.0")
		wantError(t, err, "publishing example.com/lib", "case-insensitive file name collision")
	})
}
