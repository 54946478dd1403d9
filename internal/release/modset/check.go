package modset

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// Check reports everything that keeps the checkout from being released at version, or from
// building inside the repository as it does outside; "" stands for the version its go.mod
// files agree on. It checks that
//
//   - every library module's path is its directory below the root module's path, which is
//     where go get looks for its tag;
//   - go.work uses every module of the checkout, and nothing else;
//   - every go.mod requires the library modules at the same version, a releasable one;
//   - every go.mod that requires a library module replaces it with its directory, but a
//     command module's go.mod has no replace directive, and a module with one holds no
//     command;
//   - the checkout has no uncommitted change;
//   - every module is tidy (go mod tidy -diff, outside the workspace; a command module
//     against the library modules as committed, published to a temporary module proxy).
//
// All problems are reported, joined, not only the first.
func (r *Repo) Check(ctx context.Context, version string) error {
	return errors.Join(
		r.CheckLayout(),
		r.CheckWorkspace(),
		r.checkRequirements(version),
		r.CheckReplaces(),
		r.CheckClean(ctx),
		r.CheckTidy(ctx),
	)
}

// CheckLayout reports library modules whose path is not their directory below the root
// module's path: their "<dir>/vX.Y.Z" tags would not be found by go get.
func (r *Repo) CheckLayout() error {
	root := r.RootModule().Path
	var errs []error
	for _, m := range r.Libraries()[1:] {
		if want := root + "/" + m.Dir; m.Path != want {
			errs = append(errs, fmt.Errorf("%s/go.mod declares module %s, but go get looks for the tag %s of module %s",
				m.Dir, m.Path, m.Tag("vX.Y.Z"), want))
		}
	}
	return errors.Join(errs...)
}

// CheckWorkspace reports modules of the checkout that go.work does not use, and directories
// it uses that hold no module of the checkout.
func (r *Repo) CheckWorkspace() error {
	name := filepath.Join(r.Root, "go.work")
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("every module must be in the workspace: %w", err)
	}
	work, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, u := range work.Use {
		dir := u.Path
		if filepath.IsAbs(dir) {
			if dir, err = filepath.Rel(r.Root, dir); err != nil {
				return err
			}
		}
		used[path.Clean(filepath.ToSlash(dir))] = true
	}
	var errs []error
	for _, m := range r.Modules {
		if !used[m.Dir] {
			errs = append(errs, fmt.Errorf("go.work does not use ./%s: add it with go work use ./%s", m.Dir, m.Dir))
		}
		delete(used, m.Dir)
	}
	for dir := range used {
		errs = append(errs, fmt.Errorf("go.work uses %s, which holds no module of the checkout", dir))
	}
	return errors.Join(errs...)
}

func (r *Repo) checkRequirements(version string) error {
	got, err := r.Version()
	if err != nil {
		return err
	}
	if version != "" && got != version {
		return fmt.Errorf("go.mod files require the library modules at %s, not %s (run the set command)", got, version)
	}
	return r.CheckVersion(got)
}

// CheckReplaces reports every require of a library module that is not replaced by the
// module's directory: without the replace, building inside the repository would download
// the released module instead of using the code beside it. Command modules are the
// exception, and the opposite rule: go install pkg@version refuses a module whose go.mod
// has a replace (or exclude) directive, so a command module must have none, and builds
// inside the repository through go.work. A library module that keeps its replaces
// therefore must not hold a command either.
func (r *Repo) CheckReplaces() error {
	var errs []error
	for _, req := range r.Requirements() {
		m, lib := req.Module, r.byPath(req.Path)
		if m.Command {
			continue
		}
		want, err := filepath.Rel(filepath.FromSlash(m.Dir), filepath.FromSlash(lib.Dir))
		if err != nil {
			return err
		}
		want = filepath.ToSlash(want)
		if !strings.HasPrefix(want, ".") {
			want = "./" + want
		}
		rep := replacement(m.file, req)
		switch {
		case rep == nil || rep.New.Version != "":
			errs = append(errs, fmt.Errorf("%s/go.mod requires %s but does not replace it with its directory: add replace %s => %s",
				m.Dir, req.Path, req.Path, want))
		case path.Join(m.Dir, rep.New.Path) != lib.Dir:
			errs = append(errs, fmt.Errorf("%s/go.mod replaces %s with %s, which is not its directory (%s)",
				m.Dir, req.Path, rep.New.Path, want))
		}
	}
	for _, m := range r.Modules {
		switch {
		case m.Command:
			for _, rep := range m.file.Replace {
				errs = append(errs, fmt.Errorf("%s/go.mod replaces %s: a command module has no replace directive, "+
					"since go install %s@VERSION refuses a module whose go.mod has one; "+
					"inside the repository it builds against the library modules through go.work",
					m.Dir, rep.Old.Path, m.Path))
			}
			for _, ex := range m.file.Exclude {
				errs = append(errs, fmt.Errorf("%s/go.mod excludes %s %s: a command module has no exclude directive, "+
					"since go install %s@VERSION refuses a module whose go.mod has one",
					m.Dir, ex.Mod.Path, ex.Mod.Version, m.Path))
			}
		case m.Library && len(m.file.Replace) > 0:
			cmds, err := r.commandsIn(m)
			if err != nil {
				return err
			}
			for _, c := range cmds {
				errs = append(errs, fmt.Errorf("%s holds the command %s, which go install refuses because %s/go.mod has replace directives: "+
					"move it into a module of its own below cmd/", m.Dir, c, m.Dir))
			}
		}
	}
	return errors.Join(errs...)
}

// commandsIn returns the import paths of the main packages of m that a user could go
// install: outside internal, testdata and vendor directories and nested modules, with Go
// files for this platform.
func (r *Repo) commandsIn(m *Module) ([]string, error) {
	top := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
	var cmds []string
	err := filepath.WalkDir(top, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(top, dir)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." {
			if name := d.Name(); ignoredByGo(name) || name == "internal" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		p, err := build.Default.ImportDir(dir, 0)
		if err == nil && p.Name == "main" && len(p.GoFiles) > 0 {
			cmds = append(cmds, path.Join(m.Path, rel))
		}
		return nil
	})
	return cmds, err
}

// replacement returns the replace directive of f that applies to req, or nil.
func replacement(f *modfile.File, req Requirement) *modfile.Replace {
	for _, rep := range f.Replace {
		if rep.Old.Path == req.Path && (rep.Old.Version == "" || rep.Old.Version == req.Version) {
			return rep
		}
	}
	return nil
}

// CheckClean reports uncommitted changes and untracked files: a release is made of commits.
func (r *Repo) CheckClean(ctx context.Context) error {
	status, err := git(ctx, r.Root, "status", "--porcelain")
	if err != nil {
		return err
	}
	if status = strings.TrimRight(status, "\n"); status != "" {
		return fmt.Errorf("the checkout has uncommitted changes (commit or stash them):\n%s", status)
	}
	return nil
}

// CheckTidy reports the modules that go mod tidy would change, with the change, each module
// taken on its own (GOWORK=off) as a user's build sees it. A command module is tidied
// against the library modules as committed, published at the version the go.mod files
// require to a temporary module proxy: no other proxy serves that version before it is
// tagged.
func (r *Repo) CheckTidy(ctx context.Context) error {
	var errs []error
	for _, m := range r.Modules {
		if m.Command {
			continue
		}
		dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
		if _, err := run(ctx, dir, []string{"GOWORK=off"}, "go", "mod", "tidy", "-diff"); err != nil {
			errs = append(errs, fmt.Errorf("%s is not tidy (run go mod tidy there): %w", m.Dir, err))
		}
	}
	if cmds := r.Commands(); len(cmds) > 0 {
		errs = append(errs, r.checkCommandsTidy(ctx, cmds))
	}
	return errors.Join(errs...)
}
