package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"

	"github.com/cfaccess/cfaccess/internal/release/modset"
)

const usage = `Usage: go run ./internal/release <command> [flags] [version]

Commands:
  modules [-all|-commands] [-paths]
                             list the library modules (-all: every module of the checkout;
                             -commands: the command modules, below cmd/), by directory, or
                             by module path
  version                    print the version at which the go.mod files require the
                             library modules: the version of the next release
  set VERSION                make every go.mod require the library modules at VERSION
  check [VERSION]            check that the checkout can be released (at VERSION): layout,
                             go.work, requires, replaces, no uncommitted change, tidy modules
  tidy                       go mod tidy every module on its own; a command module, which
                             has no replace, against the library modules beside it
  tags [-create] VERSION     check, then print the tags that release VERSION, in order;
                             -create makes them on HEAD (annotated)
  publish -dir DIR [VERSION] write every library module, as committed, into DIR as a module
                             proxy (GOPROXY=file://DIR)
  smoke [-dir DIR] [-fallback GOPROXY] [VERSION]
                             publish, then go get every library module into a fresh module
                             outside the repository, import every package, build and run a
                             program that serves requests through an adapter, go install
                             every command and run it with -h
  test-commands [-dir DIR] [-fallback GOPROXY] [VERSION]
                             publish, then run the tests of every command module on its own
                             (GOWORK=off) against the published modules, in a copy of HEAD

VERSION defaults to the one the go.mod files require.
`

// consumer is the program that smoke builds against the published modules.
//
//go:embed testdata/consumer
var consumer embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// errUsage reports a command line that says nothing sensible; the usage precedes it.
var errUsage = errors.New("see the usage above")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	name, args := args[0], args[1:]
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	var (
		all, commands, paths, create bool
		dir, fallback                string
		maxArgs, minArgs             = 1, 0
	)
	switch name {
	case "modules":
		flags.BoolVar(&all, "all", false, "every module of the checkout, not only the library modules")
		flags.BoolVar(&commands, "commands", false, "only the command modules")
		flags.BoolVar(&paths, "paths", false, "print module paths rather than directories")
		maxArgs = 0
	case "version":
		maxArgs = 0
	case "set":
		minArgs = 1
	case "check":
	case "tidy":
		maxArgs = 0
	case "tags":
		flags.BoolVar(&create, "create", false, "make the tags on HEAD")
		minArgs = 1
	case "publish":
		flags.StringVar(&dir, "dir", "", "the proxy directory")
	case "smoke", "test-commands":
		flags.StringVar(&dir, "dir", "", "where to work, kept afterwards (default: a temporary directory)")
		flags.StringVar(&fallback, "fallback", "", "GOPROXY list after the published modules")
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", name, errUsage)
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() < minArgs || flags.NArg() > maxArgs {
		fmt.Fprint(stderr, usage)
		want := map[[2]int]string{{0, 0}: "no argument", {1, 1}: "a version", {0, 1}: "at most a version"}
		return fmt.Errorf("%s takes %s: %w", name, want[[2]int{minArgs, maxArgs}], errUsage)
	}
	if name == "publish" && dir == "" {
		return errors.New("publish: where to? (-dir)")
	}
	if all && commands {
		return errors.New("modules: -all or -commands, not both")
	}

	repo, err := modset.Open(ctx, ".")
	if err != nil {
		return err
	}
	version := flags.Arg(0)
	if version == "" && name != "modules" && name != "check" && name != "tidy" {
		if version, err = repo.Version(); err != nil {
			return err
		}
	}

	switch name {
	case "modules":
		for _, m := range repo.Modules {
			switch {
			case !m.Library && !all, !m.Command && commands:
			case paths:
				fmt.Fprintln(stdout, m.Path)
			default:
				fmt.Fprintln(stdout, m.Dir)
			}
		}
		return nil
	case "version":
		if err := repo.CheckVersion(version); err != nil {
			return err
		}
		fmt.Fprintln(stdout, version)
		return nil
	case "set":
		changed, err := repo.SetVersion(version)
		for _, dir := range changed {
			fmt.Fprintf(stdout, "%s/go.mod\n", dir)
		}
		return err
	case "check":
		if err := repo.Check(ctx, version); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "ok: the checkout can be released")
		return nil
	case "tidy":
		changed, err := repo.Tidy(ctx)
		for _, name := range changed {
			fmt.Fprintln(stdout, name)
		}
		return err
	case "tags":
		if err := repo.Check(ctx, version); err != nil {
			return err
		}
		tags, err := repo.Tags(ctx, version)
		if create && err == nil {
			tags, err = repo.CreateTags(ctx, version)
		}
		for _, t := range tags {
			fmt.Fprintln(stdout, t)
		}
		if create && len(tags) > 0 {
			fmt.Fprintf(stderr, "push them, in this order, with: git push origin %s\n", strings.Join(tags, " "))
		}
		return err
	case "publish":
		published, err := repo.Publish(ctx, dir, version)
		for _, p := range published {
			fmt.Fprintf(stdout, "%s %s\n", p, p.Sum)
		}
		return err
	case "test-commands":
		if fallback == "" {
			if fallback, err = modset.LocalFallback(ctx); err != nil {
				return err
			}
		}
		err := repo.TestCommands(ctx, modset.CommandTests{Version: version, Dir: dir, Fallback: fallback, Log: stdout})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ok: every command module passes its tests on its own, against the library modules published at %s\n", version)
		return nil
	default: // smoke
		program, err := fs.Sub(consumer, "testdata/consumer")
		if err != nil {
			return err
		}
		if fallback == "" {
			if fallback, err = modset.LocalFallback(ctx); err != nil {
				return err
			}
		}
		err = repo.Smoke(ctx, modset.Smoke{Version: version, Program: program, Dir: dir, Fallback: fallback, Log: stdout})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ok: every library module resolves at %s from a module proxy, builds and serves; every command installs and runs\n", version)
		return nil
	}
}
