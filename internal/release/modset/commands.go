package modset

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// A command module requires the library modules at the version being released, which no
// module proxy serves before the tags are pushed, and has no replace directive to point
// the go command at their directories instead (go install pkg@version would refuse it).
// Inside the repository it builds through go.work. Whatever must see it on its own, as a
// user's go install does, sees it against the library modules of the checkout published
// to a temporary module proxy: its tidiness (CheckTidy) and its tests (TestCommands).

// checkCommandsTidy reports the command modules that go mod tidy would change, tidied on
// their own against the library modules as committed, published at the version the go.mod
// files require. Their go.sum must not record the library modules, whose hashes change
// with every commit until the version is tagged: those are the only lines tidy may add.
func (r *Repo) checkCommandsTidy(ctx context.Context, cmds []*Module) (err error) {
	version, err := r.Version()
	if err != nil {
		return fmt.Errorf("cannot check whether %s is tidy: %w", moduleDirs(cmds), err)
	}
	tmp, err := os.MkdirTemp("", "cfaccess-tidy-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	proxy := filepath.Join(tmp, "proxy")
	published, err := r.Publish(ctx, proxy, version)
	if err != nil {
		return fmt.Errorf("cannot check whether %s is tidy, which takes the library modules as committed: %w",
			moduleDirs(cmds), err)
	}
	env, err := r.publishedEnv(ctx, proxy, tmp, "")
	if err != nil {
		return err
	}
	var errs []error
	for i, m := range cmds {
		errs = append(errs, r.checkCommandTidy(ctx, m, env, filepath.Join(tmp, "tidy", fmt.Sprint(i)), published))
	}
	return errors.Join(errs...)
}

// checkCommandTidy tidies a copy of m's go.mod and go.sum in scratch (go mod tidy
// -modfile) and compares.
func (r *Repo) checkCommandTidy(ctx context.Context, m *Module, env []string, scratch string, published []Published) error {
	dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
	goMod, goSum, err := readModFiles(dir)
	if err != nil {
		return err
	}
	// Lines of the library modules are reported below; left in, a stale one would stop
	// tidy with a checksum mismatch.
	recorded, others := r.splitSums(goSum)
	tidied := filepath.Join(scratch, "go.mod")
	if err := writeModFiles(scratch, goMod, joinLines(others)); err != nil {
		return err
	}
	if _, err := run(ctx, dir, env, "go", "mod", "tidy", "-modfile="+tidied); err != nil {
		return fmt.Errorf("%s: go mod tidy against the library modules published from the checkout: %w", m.Dir, err)
	}
	tidyMod, tidySum, err := readModFiles(scratch)
	if err != nil {
		return err
	}
	var errs []error
	if !bytes.Equal(goMod, tidyMod) {
		errs = append(errs, fmt.Errorf("%s/go.mod is not tidy (run go run ./internal/release tidy):\n%s",
			m.Dir, lineDiff(splitLines(goMod), splitLines(tidyMod))))
	}
	for _, line := range recorded {
		errs = append(errs, fmt.Errorf("%s/go.sum records %q: a command module's go.sum records no library module, "+
			"whose hash changes with every commit until the version is tagged (run go run ./internal/release tidy)",
			m.Dir, line))
	}
	needed, tidyOthers := r.splitSums(tidySum)
	if d := lineDiff(others, tidyOthers); d != "" {
		errs = append(errs, fmt.Errorf("%s/go.sum is not tidy (run go run ./internal/release tidy):\n%s", m.Dir, d))
	}
	// Tidy took the library modules from the temporary proxy, and nothing else.
	want := map[string]bool{}
	for _, p := range published {
		want[p.Path+" "+p.Version.Version+" "+p.Sum] = true
		want[p.Path+" "+p.Version.Version+"/go.mod "+p.GoModSum] = true
	}
	for _, line := range needed {
		if !want[strings.Join(strings.Fields(line), " ")] {
			errs = append(errs, fmt.Errorf("%s needs %q, which is not what was published", m.Dir, line))
		}
	}
	return errors.Join(errs...)
}

// Tidy makes every module of the checkout tidy, each taken on its own (GOWORK=off), and
// returns the go.mod and go.sum files it changed. A command module is tidied against the
// library modules of the working tree: with a temporary go.mod that replaces each by its
// directory, whose result, without those replaces, becomes its go.mod. Its go.sum then
// records no library module, as it must.
func (r *Repo) Tidy(ctx context.Context) (changed []string, err error) {
	tmp, err := os.MkdirTemp("", "cfaccess-tidy-")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	for i, m := range r.Modules {
		dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
		goMod, goSum, err := readModFiles(dir)
		if err != nil {
			return changed, err
		}
		var tidyMod, tidySum []byte
		if m.Command {
			tidyMod, tidySum, err = r.tidyCommand(ctx, m, filepath.Join(tmp, fmt.Sprint(i)))
			if err == nil {
				err = writeModFiles(dir, tidyMod, tidySum)
			}
		} else {
			if _, err = run(ctx, dir, []string{"GOWORK=off"}, "go", "mod", "tidy"); err == nil {
				tidyMod, tidySum, err = readModFiles(dir)
			}
		}
		if err != nil {
			return changed, fmt.Errorf("tidying %s: %w", m.Dir, err)
		}
		if !bytes.Equal(goMod, tidyMod) {
			changed = append(changed, fileOf(m, "go.mod"))
		}
		if !bytes.Equal(goSum, tidySum) {
			changed = append(changed, fileOf(m, "go.sum"))
		}
	}
	return changed, nil
}

// fileOf returns the name of m's file name relative to the checkout's root.
func fileOf(m *Module, name string) string {
	if m.Dir == "." {
		return name
	}
	return m.Dir + "/" + name
}

// tidyCommand returns m's go.mod and go.sum as go mod tidy makes them against the library
// modules of the working tree, tidying a copy in scratch.
func (r *Repo) tidyCommand(ctx context.Context, m *Module, scratch string) ([]byte, []byte, error) {
	dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
	goMod, goSum, err := readModFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	f, err := modfile.Parse(filepath.Join(dir, "go.mod"), goMod, nil)
	if err != nil {
		return nil, nil, err
	}
	var added []string
	for _, lib := range r.Libraries() {
		if lib == m || replaced(f, lib.Path) {
			continue
		}
		if err := f.AddReplace(lib.Path, "", filepath.Join(r.Root, filepath.FromSlash(lib.Dir)), ""); err != nil {
			return nil, nil, err
		}
		added = append(added, lib.Path)
	}
	withReplaces, err := f.Format()
	if err != nil {
		return nil, nil, err
	}
	_, others := r.splitSums(goSum)
	if err := writeModFiles(scratch, withReplaces, joinLines(others)); err != nil {
		return nil, nil, err
	}
	tidied := filepath.Join(scratch, "go.mod")
	if _, err := run(ctx, dir, []string{"GOWORK=off"}, "go", "mod", "tidy", "-modfile="+tidied); err != nil {
		return nil, nil, err
	}
	tidyMod, tidySum, err := readModFiles(scratch)
	if err != nil {
		return nil, nil, err
	}
	if f, err = modfile.Parse(tidied, tidyMod, nil); err != nil {
		return nil, nil, err
	}
	for _, p := range added {
		if err := f.DropReplace(p, ""); err != nil {
			return nil, nil, err
		}
	}
	// Tidy requires a library module it adds at a pseudo-version, having only a directory
	// for it; the command requires what the other go.mod files do. (When they disagree,
	// the check says so.)
	if version, err := r.Version(); err == nil {
		for _, req := range f.Require {
			if lib := r.byPath(req.Mod.Path); lib != nil && lib.Library && req.Mod.Version != version {
				if err := f.AddRequire(req.Mod.Path, version); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	f.Cleanup()
	if tidyMod, err = f.Format(); err != nil {
		return nil, nil, err
	}
	_, others = r.splitSums(tidySum)
	return tidyMod, joinLines(others), nil
}

// replaced reports whether f replaces every version of modPath.
func replaced(f *modfile.File, modPath string) bool {
	for _, rep := range f.Replace {
		if rep.Old.Path == modPath && rep.Old.Version == "" {
			return true
		}
	}
	return false
}

// CommandTests runs the tests of every command module on its own (GOWORK=off), as users
// build it: against the library modules published to a module proxy.
type CommandTests struct {
	// Version is the version to publish, the one the go.mod files require.
	Version string
	// Dir receives the proxy, a copy of the commit and its module cache, and is kept;
	// when empty, a temporary directory is used and removed.
	Dir string
	// Fallback is the GOPROXY list that follows the published modules, for the commands'
	// other dependencies ("off" when empty).
	Fallback string
	// Log receives the commands run and their output.
	Log io.Writer
}

// TestCommands publishes every library module at t.Version, copies the commit checked out
// (git archive, so as committed) and runs go test ./... in each command module of the copy,
// with no workspace and a module cache of its own, the published modules first in GOPROXY.
// The copy, not the checkout, receives the go.sum lines of the library modules; tests that
// use other directories of the repository find them beside it.
func (r *Repo) TestCommands(ctx context.Context, t CommandTests) (err error) {
	if t.Log == nil {
		t.Log = io.Discard
	}
	cmds := r.Commands()
	if len(cmds) == 0 {
		fmt.Fprintln(t.Log, "no command module")
		return nil
	}
	work := t.Dir
	if work == "" {
		if work, err = os.MkdirTemp("", "cfaccess-commands-"); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, os.RemoveAll(work)) }()
	}
	rev, err := git(ctx, r.Root, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	proxy := filepath.Join(work, "proxy")
	if _, err := r.Publish(ctx, proxy, t.Version); err != nil {
		return err
	}
	src := filepath.Join(work, "src")
	if err := extractCommit(ctx, r.Root, strings.TrimSpace(rev), src); err != nil {
		return err
	}
	env, err := r.publishedEnv(ctx, proxy, work, t.Fallback)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range cmds {
		g := goRunner{dir: filepath.Join(src, filepath.FromSlash(m.Dir)), env: env, log: t.Log}
		if err := g.run(ctx, "test", "-count=1", "./..."); err != nil {
			errs = append(errs, fmt.Errorf("the tests of %s, on its own against the published library modules: %w", m.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// publishedEnv is the environment of a go command run on its own (GOWORK=off) against the
// library modules published in proxy, with a new module cache in work: the published
// versions are not the released ones, and must never reach a module cache that outlives
// the run. GOFLAGS=-mod=mod lets the go command record their hashes; fallback ("" for the
// local module cache, then GOPROXY) serves the other dependencies.
func (r *Repo) publishedEnv(ctx context.Context, proxy, work, fallback string) ([]string, error) {
	if fallback == "" {
		var err error
		if fallback, err = LocalFallback(ctx); err != nil {
			return nil, err
		}
	}
	return proxyEnv(ctx, proxy, work, fallback, r.RootModule().Path, "-mod=mod", "-modcacherw")
}

// LocalFallback is a GOPROXY list that serves modules from the local module cache when it
// has them (GOMODCACHE/cache/download is laid out as a module proxy) and from the
// configured proxies otherwise.
func LocalFallback(ctx context.Context) (string, error) {
	out, err := run(ctx, ".", nil, "go", "env", "GOMODCACHE", "GOPROXY")
	if err != nil {
		return "", err
	}
	env := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(env) != 2 {
		return "", fmt.Errorf("go env GOMODCACHE GOPROXY printed %q", out)
	}
	return "file://" + filepath.ToSlash(filepath.Join(env[0], "cache", "download")) + "," + env[1], nil
}

// extractCommit writes the files of the commit rev of the checkout in root into dir, as
// git archive gives them.
func extractCommit(ctx context.Context, root, rev, dir string) (err error) {
	cmd := exec.CommandContext(ctx, "git", "-c", "core.autocrlf=input", "-c", "core.eol=lf",
		"archive", "--format=tar", rev)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		// Drain, so that git is not blocked writing when extraction stopped early.
		_, _ = io.Copy(io.Discard, out)
		if werr := cmd.Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("git archive %s: %w\n%s", rev, werr, stderr.Bytes()))
		}
	}()
	return untar(out, dir)
}

// untar writes the directories, regular files and symbolic links of a tar stream into dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("the archive holds %q, outside its directory", h.Name)
		}
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(name, 0o755)
		case tar.TypeReg:
			err = writeFile(name, tr, fs.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(name), 0o755); err == nil {
				err = os.Symlink(h.Linkname, name)
			}
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(name string, r io.Reader, perm fs.FileMode) (err error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	_, err = io.Copy(f, r)
	return err
}

// readModFiles returns dir's go.mod and go.sum (nil when it has none).
func readModFiles(dir string) (goMod, goSum []byte, err error) {
	if goMod, err = os.ReadFile(filepath.Join(dir, "go.mod")); err != nil {
		return nil, nil, err
	}
	goSum, err = os.ReadFile(filepath.Join(dir, "go.sum"))
	if errors.Is(err, fs.ErrNotExist) {
		return goMod, nil, nil
	}
	return goMod, goSum, err
}

// writeModFiles writes go.mod and go.sum into dir; an empty go.sum is none.
func writeModFiles(dir string, goMod, goSum []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), goMod, 0o644); err != nil {
		return err
	}
	sum := filepath.Join(dir, "go.sum")
	if len(goSum) == 0 {
		if err := os.Remove(sum); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(sum, goSum, 0o644)
}

// splitSums splits the lines of a go.sum into those of the checkout's library modules and
// the others.
func (r *Repo) splitSums(goSum []byte) (libs, others []string) {
	sc := bufio.NewScanner(bytes.NewReader(goSum))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if f := strings.Fields(line); len(f) > 0 {
			if m := r.byPath(f[0]); m != nil && m.Library {
				libs = append(libs, line)
				continue
			}
		}
		others = append(others, line)
	}
	return libs, others
}

func joinLines(lines []string) []byte {
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// lineDiff lists the lines that only one of a (-) and b (+) holds, or returns "" when
// they are the same lines in the same order.
func lineDiff(a, b []string) string {
	if slices.Equal(a, b) {
		return ""
	}
	count := map[string]int{}
	for _, l := range a {
		count[l]--
	}
	for _, l := range b {
		count[l]++
	}
	var diff []string
	for l, n := range count {
		for ; n < 0; n++ {
			diff = append(diff, "-"+l)
		}
		for ; n > 0; n-- {
			diff = append(diff, "+"+l)
		}
	}
	if len(diff) == 0 {
		return "(the same lines, in another order)"
	}
	// By line, then - before +.
	sort.Slice(diff, func(i, j int) bool {
		if diff[i][1:] != diff[j][1:] {
			return diff[i][1:] < diff[j][1:]
		}
		return diff[i] > diff[j]
	})
	return strings.Join(diff, "\n")
}

// splitLines returns the lines of a file (none for an empty one).
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func moduleDirs(mods []*Module) string {
	var dirs []string
	for _, m := range mods {
		dirs = append(dirs, m.Dir)
	}
	return strings.Join(dirs, ", ")
}
