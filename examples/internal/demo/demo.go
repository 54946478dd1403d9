// Package demo is what the example servers share that a user does not copy: demo mode, the
// variables of the examples themselves (ADDR, ADMIN_GROUP, METRICS_ADDR), the Prometheus
// endpoint, and serving until interrupted. The production wiring, from the environment to
// the verifier, is package wiring, to be copied from there; each example's main.go holds
// its framework's code only.
//
// Demo mode only supplies values: with no CF_ACCESS_ variable set, it starts a fake team
// domain (core/accesstest) on loopback and sets CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD in
// the process's environment, which the wiring then reads as it would in production. Any
// CF_ACCESS_ variable set, even empty, turns it off, so that a deployment that lost one
// variable fails, naming it, instead of trusting a fake team domain.
package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/otelaccess"
	"github.com/cfaccess/cfaccess/examples/wiring"
)

// The examples' own variables.
const (
	EnvAddr       = "ADDR"        // the listen address
	EnvAdminGroup = "ADMIN_GROUP" // the group that /admin requires
)

// Defaults of the examples' own variables.
const (
	DefaultAddr       = "127.0.0.1:8080"
	DefaultAdminGroup = "admins"
)

// envPrefix starts every variable of the library's environment convention; any one of them
// set means a deployment, never a demo.
const envPrefix = "CF_ACCESS_"

// shutdownTimeout bounds a graceful shutdown: requests in flight get this long to finish.
const shutdownTimeout = 5 * time.Second

// Example is one example server's surroundings: its listen address, the group /admin
// requires, its metrics and, in demo mode, the fake team domain.
type Example struct {
	// AdminGroup is the group that /admin requires: ADMIN_GROUP, "admins" when unset.
	AdminGroup string
	// Metrics records cfaccess's metrics, which GET /metrics serves on METRICS_ADDR when it
	// is set: give Metrics.Observe to the middleware's WithObserver.
	Metrics *otelaccess.Telemetry

	framework string
	addr      string
	team      *accesstest.Server // nil outside demo mode
	out       io.Writer
	stops     []func(context.Context) error // what Close ends, in reverse
}

// Run is an example server's main: it starts the example (see Start), makes its verifier
// (wiring.NewVerifier) and runs serve, which builds the framework's routes and serves them
// (Serve, ServeHandler) until the process is interrupted. An error is printed, and the
// process exits 1.
func Run(framework string, serve func(ex *Example, v *core.Verifier) error) {
	if err := run(framework, serve); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(framework string, serve func(*Example, *core.Verifier) error) error {
	ex, err := Start(framework)
	if err != nil {
		return err
	}
	defer ex.Close()
	v, reg, err := wiring.NewVerifier(ex.Metrics)
	if err != nil {
		return err
	}
	defer reg.Unregister()
	return serve(ex, v)
}

// Start reads ADDR and ADMIN_GROUP and, when no CF_ACCESS_ variable is set, enters demo
// mode (see the package documentation). framework names the server in what it prints.
// Close it when done.
func Start(framework string) (*Example, error) {
	ex := &Example{
		AdminGroup: cmp.Or(strings.TrimSpace(os.Getenv(EnvAdminGroup)), DefaultAdminGroup),
		framework:  framework,
		addr:       cmp.Or(strings.TrimSpace(os.Getenv(EnvAddr)), DefaultAddr),
		out:        os.Stdout,
	}
	if err := ex.startMetrics(); err != nil {
		return nil, errors.Join(err, ex.stop())
	}
	if configured() {
		return ex, nil
	}
	ex.team = accesstest.NewServer()
	if err := errors.Join(
		os.Setenv(core.EnvTeamDomain, ex.team.URL),
		os.Setenv(core.EnvAudiences, ex.team.AUD),
	); err != nil {
		ex.Close()
		return nil, fmt.Errorf("demo mode: %w", err)
	}
	return ex, nil
}

// configured reports whether any CF_ACCESS_ variable is set, even to nothing.
func configured() bool {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, envPrefix) {
			return true
		}
	}
	return false
}

// Close stops the metrics listener and the fake team domain of demo mode, if any.
func (ex *Example) Close() {
	_ = ex.stop()
	if ex.team != nil {
		ex.team.Close()
	}
}

// ServeHandler serves h over HTTP/1.1 on ADDR until the process is interrupted (see Serve).
func (ex *Example) ServeHandler(h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return ex.Serve(srv.Serve, srv.Shutdown)
}

// Serve listens on ADDR, says where on standard output (after demo mode's banner, with its
// ready-to-paste curl commands), and runs serve on the listener until it fails or the
// process is interrupted (SIGINT, SIGTERM); then it calls shutdown, which gets a few
// seconds to let requests in flight finish.
func (ex *Example) Serve(serve func(net.Listener) error, shutdown func(context.Context) error) error {
	ln, err := net.Listen("tcp", ex.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvAddr, err)
	}
	base := "http://" + ln.Addr().String()
	if ex.team != nil {
		ex.banner(base)
	}
	fmt.Fprintf(ex.out, "cfaccess %s example listening on %s\n", ex.framework, base)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return shutdown(ctx)
}

// banner says loudly that this is a demo, with commands carrying a member's and an
// outsider's token for AdminGroup.
func (ex *Example) banner(base string) {
	day := time.Now().Add(24 * time.Hour)
	member := ex.team.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{ex.AdminGroup, "staff"}, ExpiresAt: day})
	outsider := ex.team.Mint(accesstest.Token{Email: "bob@example.com", Groups: []string{"staff"}, ExpiresAt: day})
	line := strings.Repeat("=", 78)
	fmt.Fprintf(ex.out, `%[1]s
  DEMO MODE: NOT PROTECTED BY CLOUDFLARE ACCESS
  No CF_ACCESS_ variable is set, so this server trusts a FAKE team domain
  started on %[2]s, which signs whatever it is asked to.
  To protect a real application, set CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD.
%[1]s

Try it (the tokens are valid for 24 hours):

  MEMBER='%[3]s'
  OUTSIDER='%[4]s'

  curl -i %[5]s/healthz                                                  # 200
  curl -i %[5]s/whoami                                                   # 401
  curl -i -H "Cf-Access-Jwt-Assertion: $MEMBER" %[5]s/whoami             # 200
  curl -i -H "Cf-Access-Jwt-Assertion: $MEMBER" %[5]s/me                 # 200
  curl -i -H "Cf-Access-Jwt-Assertion: $MEMBER" %[5]s/admin              # 200: in %[6]q
  curl -i -H "Cf-Access-Jwt-Assertion: $OUTSIDER" %[5]s/admin            # 403

`, line, ex.team.URL, member, outsider, base, ex.AdminGroup)
}
