package modset

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Smoke proves that the library modules of a checkout resolve, build and work for a user:
// it publishes them to a file:// proxy and builds a fresh module against them outside the
// repository, with no workspace and no replace, and installs their commands from it.
type Smoke struct {
	// Version is the version to publish and resolve.
	Version string
	// Program holds the files of a main package that uses the library and exits non-zero
	// on a wrong answer. Smoke adds go.mod and imports.go, which imports every package of
	// every library module.
	Program fs.FS
	// Dir receives the proxy, the fresh module and its module cache, and is kept; when
	// empty, a temporary directory is used and removed.
	Dir string
	// Fallback is the GOPROXY list that follows the published modules, for the library's
	// own dependencies ("off" when empty).
	Fallback string
	// Log receives the commands run and their output.
	Log io.Writer
}

// consumerPath is the fresh module's path: outside the repository's.
const consumerPath = "example.com/consumer"

// Smoke publishes every library module at s.Version. Then, with a module cache of its own,
// it go gets each library module alone into a fresh module; and into one more, it go gets
// them all, checks that go.sum holds the published zips' hashes (so nothing came from
// elsewhere), imports every package a user can import, builds and runs the program. Last,
// it go installs every command at s.Version, as a user does, and runs it with -h.
func (r *Repo) Smoke(ctx context.Context, s Smoke) (err error) {
	if s.Program == nil {
		return errors.New("smoke: no program to build")
	}
	if s.Log == nil {
		s.Log = io.Discard
	}
	if s.Fallback == "" {
		s.Fallback = "off"
	}
	work := s.Dir
	if work == "" {
		if work, err = os.MkdirTemp("", "cfaccess-smoke-"); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, os.RemoveAll(work)) }()
	}
	proxy := filepath.Join(work, "proxy")
	consumer := filepath.Join(work, "consumer")

	published, err := r.Publish(ctx, proxy, s.Version)
	if err != nil {
		return err
	}
	for _, p := range published {
		fmt.Fprintf(s.Log, "published %s %s\n", p, p.Sum)
	}
	env, err := consumerEnv(ctx, proxy, work, s.Fallback, r.RootModule().Path)
	if err != nil {
		return err
	}
	goVersion := r.RootModule().GoVersion()

	// A user go gets one module, not all of them. A module that requires another at a
	// version never published fails alone; getting them all at once would hide it, the
	// published version being selected instead.
	for i, p := range published {
		alone := filepath.Join(work, "alone", fmt.Sprint(i))
		if err := writeConsumer(alone, nil, goVersion); err != nil {
			return err
		}
		g := goRunner{dir: alone, env: env, log: s.Log}
		if err := g.quiet(ctx, "get", p.String()); err != nil {
			return err
		}
	}

	if err := writeConsumer(consumer, s.Program, goVersion); err != nil {
		return err
	}
	g := goRunner{dir: consumer, env: env, log: s.Log}
	get := []string{"get"}
	for _, p := range published {
		get = append(get, p.String())
	}
	if err := g.run(ctx, get...); err != nil {
		return err
	}
	if err := checkSums(filepath.Join(consumer, "go.sum"), published); err != nil {
		return err
	}
	pkgs, err := g.output(ctx, "list", "-e", "-f", "{{.ImportPath}} {{.Name}} {{len .GoFiles}}",
		r.RootModule().Path+"/...")
	if err != nil {
		return err
	}
	imports, commands, err := importable(pkgs, published)
	if err != nil {
		return err
	}
	if err := writeImports(filepath.Join(consumer, "imports.go"), imports); err != nil {
		return err
	}
	fmt.Fprintf(s.Log, "imports.go imports %s\n", strings.Join(imports, " "))
	bin := filepath.Join(work, "consumer.bin")
	if err := g.run(ctx, "build", "-o", bin, "."); err != nil {
		return err
	}
	fmt.Fprintf(s.Log, "$ %s\n", bin)
	if err := runProgram(ctx, consumer, s.Log, bin); err != nil {
		return fmt.Errorf("the program built against the published modules failed: %w", err)
	}
	return installCommands(ctx, work, env, commands, s.Version, s.Log)
}

// runProgram runs the program bin in dir, for programTimeout at most.
func runProgram(ctx context.Context, dir string, log io.Writer, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, programTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("not done after %v: %w", programTimeout, ctx.Err())
	}
	return err
}

// installCommands go installs each command at version, as a user does, outside any module,
// and runs it with -h, which must succeed.
func installCommands(ctx context.Context, work string, env []string, commands []string, version string, log io.Writer) error {
	gobin := filepath.Join(work, "bin")
	// go install pkg@version reads no go.mod and takes no -mod flag.
	env = append(slices.Clone(env), "GOBIN="+gobin, "GOFLAGS=-modcacherw -trimpath")
	g := goRunner{dir: work, env: env, log: log}
	for _, c := range commands {
		if err := g.quiet(ctx, "install", c+"@"+version); err != nil {
			return err
		}
		bin := filepath.Join(gobin, commandName(c))
		fmt.Fprintf(log, "$ %s -h\n", bin)
		if err := runProgram(ctx, work, log, bin, "-h"); err != nil {
			return fmt.Errorf("%s -h, installed from the published modules: %w", c, err)
		}
	}
	return nil
}

// commandName is the name of the executable that go install makes of the main package
// pkg: its last element, or the one before a major version suffix.
func commandName(pkg string) string {
	name := path.Base(pkg)
	if dir := path.Dir(pkg); dir != "." && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		name = path.Base(dir)
	}
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return name
}

// programTimeout bounds the run of a program: it serves a few requests on loopback.
const programTimeout = 2 * time.Minute

// writeConsumer writes a fresh module into dir: go.mod and the files of program, if any.
func writeConsumer(dir string, program fs.FS, goVersion string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if program != nil {
		if err := os.CopyFS(dir, program); err != nil {
			return err
		}
	}
	goMod := "module " + consumerPath + "\n"
	if goVersion != "" {
		goMod += "\ngo " + goVersion + "\n"
	}
	name := filepath.Join(dir, "go.mod")
	if _, err := os.Stat(name); err == nil {
		return errors.New("smoke: the program brings its own go.mod")
	}
	return os.WriteFile(name, []byte(goMod), 0o644)
}

// consumerEnv is the environment of a user's build against the published modules: no
// workspace, go.mod and go.sum updated as needed, the published modules first in GOPROXY,
// no checksum database asked about them (it has never seen them), and a module cache of
// its own, so that no copy of the library downloaded earlier can stand in for them.
func consumerEnv(ctx context.Context, proxy, work, fallback, rootPath string) ([]string, error) {
	// -trimpath keys the build cache by module path and version rather than by directory,
	// so that the next run's fresh module cache still finds the library's dependencies
	// compiled.
	return proxyEnv(ctx, proxy, work, fallback, rootPath, "-mod=mod", "-modcacherw", "-trimpath")
}

// proxyEnv is the environment of a go command that takes the modules below rootPath from
// the module proxy in proxy, then whatever else from fallback, with no workspace, no
// checksum database asked about those modules, and a new module cache in work. GOFLAGS
// holds flags, and those of the configured GOFLAGS that set something else.
func proxyEnv(ctx context.Context, proxy, work, fallback, rootPath string, flags ...string) ([]string, error) {
	// The go command indexes a module cache's packages by directory, taking them for
	// immutable (GOCACHE outlives the module cache). A published version's contents change
	// with every commit, so a module cache where one was seen before, even removed since,
	// would show its old packages: each run gets a directory never used.
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	modcache, err := os.MkdirTemp(work, "modcache-")
	if err != nil {
		return nil, err
	}
	out, err := run(ctx, ".", nil, "go", "env", "GOFLAGS")
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, f := range flags {
		name, _, _ := strings.Cut(f, "=")
		set[name] = true
	}
	flags = slices.Clone(flags)
	for _, f := range strings.Fields(string(out)) {
		if name, _, _ := strings.Cut(f, "="); !set[name] {
			flags = append(flags, f)
		}
	}
	return []string{
		"GOWORK=off",
		"GOFLAGS=" + strings.Join(flags, " "),
		"GOPROXY=file://" + filepath.ToSlash(proxy) + "," + fallback,
		// GOPRIVATE or GONOPROXY naming rootPath would send the go command to the
		// repository itself instead of the proxy.
		"GONOSUMDB=" + rootPath,
		"GOPRIVATE=",
		"GONOPROXY=",
		"GOMODCACHE=" + modcache,
	}, nil
}

// checkSums checks that go.sum records exactly the published hashes for every module of the
// library, and no other version of them.
func checkSums(name string, published []Published) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	want := map[string]string{}
	for _, p := range published {
		want[p.Path+" "+p.Version.Version] = p.Sum
		want[p.Path+" "+p.Version.Version+"/go.mod"] = p.GoModSum
	}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || modulePathOf(f[0], published) == "" {
			continue
		}
		key := f[0] + " " + f[1]
		sum, ok := want[key]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("go.sum holds %s, which was not published", key))
		case sum != f[2]:
			errs = append(errs, fmt.Errorf("go.sum holds %s %s, not the published %s", key, f[2], sum))
		}
		delete(want, key)
	}
	for key := range want {
		if !strings.HasSuffix(key, "/go.mod") {
			errs = append(errs, fmt.Errorf("go.sum lacks %s: the module was not downloaded", key))
		}
	}
	return errors.Join(errs...)
}

// importable returns the packages of go list's lines ("<import path> <name> <go files>")
// that a user can import (neither internal nor main, with Go files), and the commands a
// user can install (main, not internal). Every published module must bring at least one
// of either.
func importable(listed []byte, published []Published) (pkgs, commands []string, err error) {
	perModule := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(listed))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] == "0" || isInternal(f[0]) {
			continue
		}
		if f[1] == "main" {
			commands = append(commands, f[0])
		} else {
			pkgs = append(pkgs, f[0])
		}
		perModule[modulePathOf(f[0], published)]++
	}
	var errs []error
	for _, p := range published {
		if perModule[p.Path] == 0 {
			errs = append(errs, fmt.Errorf("module %s brings no package a user can import, nor a command", p.Path))
		}
	}
	sort.Strings(pkgs)
	sort.Strings(commands)
	return pkgs, commands, errors.Join(errs...)
}

// modulePathOf returns the path of the published module that holds the package pkg: the
// longest module path that is pkg or a prefix of it ("" when none is).
func modulePathOf(pkg string, published []Published) string {
	best := ""
	for _, p := range published {
		if (pkg == p.Path || strings.HasPrefix(pkg, p.Path+"/")) && len(p.Path) > len(best) {
			best = p.Path
		}
	}
	return best
}

func isInternal(pkg string) bool {
	for _, elem := range strings.Split(pkg, "/") {
		if elem == "internal" {
			return true
		}
	}
	return false
}

func writeImports(name string, pkgs []string) error {
	var b strings.Builder
	b.WriteString("// Code generated by the release smoke check. DO NOT EDIT.\n\npackage main\n\n")
	b.WriteString("// Every package of every library module, as a user imports them.\nimport (\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\t_ %q\n", p)
	}
	b.WriteString(")\n")
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

// goRunner runs the go command in the fresh module.
type goRunner struct {
	dir string
	env []string
	log io.Writer
}

func (g goRunner) command(ctx context.Context, args []string) *exec.Cmd {
	fmt.Fprintf(g.log, "$ go %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = g.dir, append(os.Environ(), g.env...)
	return cmd
}

func (g goRunner) run(ctx context.Context, args ...string) error {
	cmd := g.command(ctx, args)
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// quiet runs the go command and shows its output only when it fails.
func (g goRunner) quiet(ctx context.Context, args ...string) error {
	out, err := g.command(ctx, args).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (g goRunner) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := g.command(ctx, args)
	cmd.Stderr = g.log
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
