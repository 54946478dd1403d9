package modset

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// Repo is a checkout of the repository and the Go modules in it.
type Repo struct {
	// Root is the absolute path of the checkout's top directory, the root module's.
	Root string
	// Modules holds every module of the checkout: the root module first, then the others
	// ordered by directory.
	Modules []*Module
}

// Module is one go.mod of the checkout.
type Module struct {
	// Dir is the module's directory, slash-separated and relative to the checkout's root;
	// "." for the root module.
	Dir string
	// Path is the module path its go.mod declares.
	Path string
	// Library reports whether the module is released: every module outside the top-level
	// examples/ and internal/ directories.
	Library bool
	// Command reports whether the module is a command module: a library module in the
	// top-level cmd/ directory or below it, which users go install rather than import. go install
	// pkg@version refuses a module whose go.mod has a replace directive, so a command
	// module has none: it requires the library modules at the version being released and,
	// inside the repository, builds against their directories through go.work.
	Command bool

	file *modfile.File
}

// Tag returns the git tag that releases m at version: the version itself for the root
// module, "<dir>/<version>" for a nested one.
func (m *Module) Tag(version string) string {
	if m.Dir == "." {
		return version
	}
	return m.Dir + "/" + version
}

// GoVersion returns the go directive of m's go.mod ("" when it has none).
func (m *Module) GoVersion() string {
	if m.file.Go == nil {
		return ""
	}
	return m.file.Go.Version
}

// Open finds the checkout that contains dir and reads the go.mod of every module in it.
func Open(ctx context.Context, dir string) (*Repo, error) {
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not inside a git checkout: %w", dir, err)
	}
	r := &Repo{Root: filepath.Clean(strings.TrimSpace(top))}

	listed, err := git(ctx, r.Root, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
		"--", ":(glob)**/go.mod")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(listed, "\x00") {
		if path.Base(name) != "go.mod" || seen[name] || ignoredByGo(path.Dir(name)) {
			continue
		}
		seen[name] = true
		m, err := r.readModule(path.Dir(name))
		if err != nil {
			return nil, err
		}
		r.Modules = append(r.Modules, m)
	}
	sort.Slice(r.Modules, func(i, j int) bool { return moduleLess(r.Modules[i].Dir, r.Modules[j].Dir) })
	if len(r.Modules) == 0 || r.Modules[0].Dir != "." {
		return nil, fmt.Errorf("%s has no go.mod at its root", r.Root)
	}
	return r, nil
}

func (r *Repo) readModule(dir string) (*Module, error) {
	name := filepath.Join(r.Root, filepath.FromSlash(dir), "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil {
		return nil, fmt.Errorf("%s: no module directive", name)
	}
	top, _, _ := strings.Cut(dir, "/")
	library := top != "examples" && top != "internal"
	return &Module{
		Dir:     dir,
		Path:    f.Module.Mod.Path,
		Library: library,
		Command: top == "cmd",
		file:    f,
	}, nil
}

// RootModule returns the root module.
func (r *Repo) RootModule() *Module { return r.Modules[0] }

// Libraries returns the library modules, the root module first.
func (r *Repo) Libraries() []*Module {
	var libs []*Module
	for _, m := range r.Modules {
		if m.Library {
			libs = append(libs, m)
		}
	}
	return libs
}

// Commands returns the command modules, ordered by directory.
func (r *Repo) Commands() []*Module {
	var cmds []*Module
	for _, m := range r.Modules {
		if m.Command {
			cmds = append(cmds, m)
		}
	}
	return cmds
}

// byPath returns the module of the checkout whose path is modPath, or nil.
func (r *Repo) byPath(modPath string) *Module {
	for _, m := range r.Modules {
		if m.Path == modPath {
			return m
		}
	}
	return nil
}

// ignoredByGo reports whether the go command ignores dir (slash-separated, relative) when it
// matches packages: go.mod files there are fixtures, not modules of the repository.
func ignoredByGo(dir string) bool {
	for _, elem := range strings.Split(dir, "/") {
		if elem == "testdata" || elem == "vendor" ||
			(elem != "." && (strings.HasPrefix(elem, ".") || strings.HasPrefix(elem, "_"))) {
			return true
		}
	}
	return false
}

// moduleLess orders the root module first, then the others by directory.
func moduleLess(a, b string) bool {
	if a == "." || b == "." {
		return a == "." && b != "."
	}
	return a < b
}

// git runs git in dir and returns its standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := run(ctx, dir, nil, "git", args...)
	return string(out), err
}

// run runs a command in dir with env added to this process's environment and returns its
// standard output; a failure carries the command's standard error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String() + "\n" + stdout.String())
		return nil, fmt.Errorf("%s %s (in %s): %w\n%s", name, strings.Join(args, " "), dir, err, msg)
	}
	return stdout.Bytes(), nil
}
