// Command cfaccess is Cloudflare Access for people: inspect a token and say which check it
// fails, run a local Access in front of any application, and give nginx, Caddy and Traefik
// the verification of the cfaccess middleware.
//
//	go install github.com/cfaccess/cfaccess/cmd/cfaccess@latest
//
//	cfaccess inspect [-team TEAM] [-aud AUD[,AUD…]] [-json] [TOKEN]
//	cfaccess dev -listen ADDR -upstream URL -aud AUD [-email E] [-groups G1,G2] …
//	cfaccess forward-auth -listen ADDR -team TEAM (-aud AUD[,AUD…] | -host-aud HOST=AUD …)
//
// Run a subcommand with -h for its flags and an example. Exit status: 0 for success, 1 when
// a token is refused (inspect) or a server fails, 2 for a usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/devproxy"
	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/forwardauth"
	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/inspect"
)

// commands are the subcommands, in the order usage lists them.
var commands = []struct {
	name, summary string
	run           func(ctx context.Context, env cli.Env, args []string) int
}{
	{"inspect", "decode a token, and with -team verify it and name the check that failed", inspect.Run},
	{"dev", "a local Access in front of any application, for development", devproxy.Run},
	{"forward-auth", "Access verification for nginx auth_request, Caddy forward_auth, Traefik forwardAuth", forwardauth.Run},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:]))
}

func run(ctx context.Context, env cli.Env, args []string) int {
	if len(args) > 0 {
		for _, c := range commands {
			if c.name == args[0] {
				return c.run(ctx, env, args[1:])
			}
		}
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		usage(env.Stdout)
		return cli.ExitOK
	}
	if len(args) > 0 {
		fmt.Fprintf(env.Stderr, "cfaccess: unknown command %q\n\n", args[0])
	}
	usage(env.Stderr)
	return cli.ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cfaccess <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run cfaccess <command> -h for its flags and an example.")
}
