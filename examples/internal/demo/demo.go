// Package demo is what the example servers share that a user does not copy: demo mode's fake
// team domain and its banner, and serving until interrupted. The production wiring, from the
// environment to the middleware, is in each example's main.go, to be copied from there.
package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cfaccess/cfaccess/core/accesstest"
)

// Team is demo mode's stand-in for Cloudflare: a fake team domain (core/accesstest) on
// loopback, which signs whatever it is asked to. It supplies the values that
// CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD hold in production.
type Team struct {
	TeamDomain string // the fake team domain's URL, in place of CF_ACCESS_TEAM_DOMAIN
	AUD        string // its application's AUD tag, in place of CF_ACCESS_AUD

	srv *accesstest.Server
}

// StartTeam starts the fake team domain. Close it when done.
func StartTeam() *Team {
	srv := accesstest.NewServer()
	return &Team{TeamDomain: srv.URL, AUD: srv.AUD, srv: srv}
}

// Close stops the fake team domain.
func (t *Team) Close() { t.srv.Close() }

// Listen opens addr and says on out where the server listens. In demo mode (team not nil)
// it first prints a banner saying loudly that this is a demo, with ready-to-paste curl
// commands carrying a member's and an outsider's token for adminGroup.
func Listen(out io.Writer, framework, addr string, team *Team, adminGroup string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	if team != nil {
		team.banner(out, base, adminGroup)
	}
	fmt.Fprintf(out, "cfaccess %s example listening on %s\n", framework, base)
	return ln, nil
}

func (t *Team) banner(out io.Writer, base, adminGroup string) {
	day := time.Now().Add(24 * time.Hour)
	member := t.srv.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{adminGroup, "staff"}, ExpiresAt: day})
	outsider := t.srv.Mint(accesstest.Token{Email: "bob@example.com", Groups: []string{"staff"}, ExpiresAt: day})
	line := strings.Repeat("=", 78)
	fmt.Fprintf(out, `%[1]s
  DEMO MODE: NOT PROTECTED BY CLOUDFLARE ACCESS
  CF_ACCESS_TEAM_DOMAIN is not set, so this server trusts a FAKE team domain
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

`, line, t.TeamDomain, member, outsider, base, adminGroup)
}

// Serve runs serve until it fails or the process is interrupted, then calls shutdown.
func Serve(serve func() error, shutdown func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return shutdown(ctx)
}
