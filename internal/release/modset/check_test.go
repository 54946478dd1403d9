package modset_test

import (
	"context"
	"strings"
	"testing"
)

func TestCheckPassesOnAReleasableCheckout(t *testing.T) {
	r := newRepo(t, layout())
	if err := r.Check(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background(), "v0.1.0"); err != nil {
		t.Fatal(err)
	}
}

// replaceIn is a change of a checkout's files: the first old in the file at path becomes
// new.
func replaceIn(path, old, new string) func(files map[string]string) {
	return func(f map[string]string) { f[path] = strings.Replace(f[path], old, new, 1) }
}

func TestCheckFindsEachProblem(t *testing.T) {
	// Each case changes one thing of a releasable checkout and commits it.
	for name, c := range map[string]struct {
		change  func(files map[string]string)
		version string
		want    []string
	}{
		"a module missing from go.work": {
			change: replaceIn("go.work", "\t./adapter/nested\n", ""),
			want:   []string{"go.work does not use ./adapter/nested"},
		},
		"go.work using a directory with no module": {
			change: replaceIn("go.work", "./examples", "./examples\n\t./gone"),
			want:   []string{"go.work uses gone, which holds no module"},
		},
		"no go.work": {
			change: func(f map[string]string) { delete(f, "go.work") },
			want:   []string{"every module must be in the workspace"},
		},
		"a module at the placeholder version": {
			change: func(f map[string]string) {
				for name, data := range f {
					f[name] = strings.ReplaceAll(data, "v0.1.0", "v0.0.0")
				}
			},
			want: []string{"v0.0.0 is the placeholder"},
		},
		"modules disagreeing": {
			change: replaceIn("adapter/go.mod", "v0.1.0", "v0.0.0"),
			want:   []string{"different versions"},
		},
		"another version than asked": {
			version: "v0.2.0",
			want:    []string{"require the library modules at v0.1.0, not v0.2.0"},
		},
		"a require without its replace": {
			change: replaceIn("adapter/nested/go.mod", "replace example.com/lib => ../..\n", ""),
			want:   []string{"adapter/nested/go.mod requires example.com/lib but does not replace it with its directory: add replace example.com/lib => ../.."},
		},
		"a replace by another version": {
			change: replaceIn("adapter/go.mod", "example.com/lib => ..", "example.com/lib => example.com/fork v0.1.0"),
			want:   []string{"adapter/go.mod requires example.com/lib but does not replace it with its directory"},
		},
		"a replace by the wrong directory": {
			change: replaceIn("examples/go.mod", "=> ../adapter/nested", "=> ../adapter"),
			want:   []string{"examples/go.mod replaces example.com/lib/adapter/nested with ../adapter, which is not its directory (../adapter/nested)"},
		},
		"a nested module whose path is not its directory": {
			change: func(f map[string]string) {
				f["adapter/nested/go.mod"] = strings.Replace(f["adapter/nested/go.mod"], "module example.com/lib/adapter/nested", "module example.com/lib/nested", 1)
				f["examples/main.go"] = source("main", "example.com/lib/core", "example.com/lib/adapter")
				f["examples/go.mod"] = goMod("examples", "example.com/lib", "example.com/lib/adapter")
			},
			want: []string{"adapter/nested/go.mod declares module example.com/lib/nested, but go get looks for the tag adapter/nested/vX.Y.Z of module example.com/lib/adapter/nested"},
		},
		"a command module with a replace directive": {
			change: func(f map[string]string) {
				f["cmd/hello/go.mod"] += "\nreplace example.com/lib => ../..\n"
			},
			want: []string{"cmd/hello/go.mod replaces example.com/lib: a command module has no replace directive, " +
				"since go install example.com/lib/cmd/hello@VERSION refuses a module whose go.mod has one"},
		},
		"a command module with an exclude directive": {
			change: func(f map[string]string) {
				f["cmd/hello/go.mod"] += "\nexclude example.com/lib v0.0.1\n"
			},
			want: []string{"cmd/hello/go.mod excludes example.com/lib v0.0.1: a command module has no exclude directive"},
		},
		"a command in a module with replace directives": {
			change: func(f map[string]string) {
				f["adapter/nested/cmd/nest/main.go"] = source("main", "example.com/lib/core")
			},
			want: []string{"adapter/nested holds the command example.com/lib/adapter/nested/cmd/nest, " +
				"which go install refuses because adapter/nested/go.mod has replace directives: move it into a module of its own below cmd/"},
		},
		"a command module that is not tidy": {
			change: replaceIn("cmd/hello/go.mod", "\texample.com/lib/adapter v0.1.0\n", ""),
			want:   []string{"cmd/hello/go.mod is not tidy (run go run ./internal/release tidy):\n+\texample.com/lib/adapter v0.1.0"},
		},
		"a command module's go.sum that is not tidy": {
			change: func(f map[string]string) {
				f["cmd/hello/go.sum"] = "example.org/gone v1.0.0/go.mod h1:gone=\n"
			},
			want: []string{"cmd/hello/go.sum is not tidy (run go run ./internal/release tidy):\n-example.org/gone v1.0.0/go.mod h1:gone="},
		},
		"a command module's go.sum recording a library module": {
			change: func(f map[string]string) {
				f["cmd/hello/go.sum"] = "example.com/lib v0.1.0/go.mod h1:stale=\n"
			},
			want: []string{`cmd/hello/go.sum records "example.com/lib v0.1.0/go.mod h1:stale=": ` +
				"a command module's go.sum records no library module, whose hash changes with every commit until the version is tagged"},
		},
		"a module that is not tidy": {
			change: func(f map[string]string) {
				f["examples/main.go"] = source("main", "example.com/lib/core", "example.com/lib/adapter")
			},
			want: []string{"examples is not tidy", "-\texample.com/lib/adapter/nested v0.1.0"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			files := layout()
			if c.change != nil {
				c.change(files)
			}
			r := newRepo(t, files)
			wantError(t, r.Check(context.Background(), c.version), c.want...)
		})
	}
}

func TestCheckRefusesUncommittedChanges(t *testing.T) {
	r := newRepo(t, layout())
	write(t, r.Root, map[string]string{"core/new.go": "package core\n"})
	wantError(t, r.Check(context.Background(), ""), "uncommitted changes", "?? core/new.go",
		"cannot check whether cmd/hello is tidy, which takes the library modules as committed")
}

// A library module may keep its replaces and hold main packages that no user installs:
// internal ones, test data, files left out of the build.
func TestCheckReplacesIgnoresWhatUsersCannotInstall(t *testing.T) {
	files := layout()
	files["adapter/internal/gen/main.go"] = "package main\n\nfunc main() {}\n"
	files["adapter/testdata/prog/main.go"] = "package main\n\nfunc main() {}\n"
	files["adapter/_old/main.go"] = "package main\n\nfunc main() {}\n"
	files["adapter/gen.go"] = "//go:build ignore\n\npackage main\n\nfunc main() {}\n"
	files["adapter/tools/tools_test.go"] = "package main\n"
	r := newRepo(t, files)
	if err := r.CheckReplaces(); err != nil {
		t.Error(err)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	files := layout()
	files["go.work"] = "go 1.25.0\n\nuse .\n"
	files["adapter/go.mod"] = strings.Replace(files["adapter/go.mod"], "v0.1.0", "v0.0.0", 1)
	r := newRepo(t, files)
	wantError(t, r.Check(context.Background(), ""), "go.work does not use ./adapter:", "go.work does not use ./examples", "different versions")
}
