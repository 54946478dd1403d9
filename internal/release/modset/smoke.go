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
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Smoke proves that the library modules of a checkout resolve, build and work for a user:
// it publishes them to a file:// proxy and builds a fresh module against them outside the
// repository, with no workspace and no replace.
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
// elsewhere), imports every package a user can import, builds and runs the program.
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
	env, err := consumerEnv(ctx, proxy, filepath.Join(work, "modcache"), s.Fallback, r.RootModule().Path)
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
	imports, err := importable(pkgs, published)
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
	ctx, cancel := context.WithTimeout(ctx, programTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir, cmd.Stdout, cmd.Stderr = consumer, s.Log, s.Log
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("not done after %v: %w", programTimeout, ctx.Err())
		}
		return fmt.Errorf("the program built against the published modules failed: %w", err)
	}
	return nil
}

// programTimeout bounds the program's run: it serves a few requests on loopback.
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
func consumerEnv(ctx context.Context, proxy, modcache, fallback, rootPath string) ([]string, error) {
	out, err := run(ctx, ".", nil, "go", "env", "GOFLAGS")
	if err != nil {
		return nil, err
	}
	// -trimpath keys the build cache by module path and version rather than by directory,
	// so that the next run's fresh module cache still finds the library's dependencies
	// compiled.
	flags := []string{"-mod=mod", "-modcacherw", "-trimpath"}
	for _, f := range strings.Fields(string(out)) {
		if !strings.HasPrefix(f, "-mod=") && f != "-modcacherw" && f != "-trimpath" {
			flags = append(flags, f)
		}
	}
	return []string{
		"GOWORK=off",
		"GOFLAGS=" + strings.Join(flags, " "),
		"GOPROXY=file://" + filepath.ToSlash(proxy) + "," + fallback,
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
// that a user can import: neither internal nor main, with Go files. Every published module
// must bring at least one.
func importable(listed []byte, published []Published) ([]string, error) {
	var pkgs []string
	perModule := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(listed))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[1] == "main" || f[2] == "0" || isInternal(f[0]) {
			continue
		}
		pkgs = append(pkgs, f[0])
		perModule[modulePathOf(f[0], published)]++
	}
	var errs []error
	for _, p := range published {
		if perModule[p.Path] == 0 {
			errs = append(errs, fmt.Errorf("module %s brings no package a user can import", p.Path))
		}
	}
	sort.Strings(pkgs)
	return pkgs, errors.Join(errs...)
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
