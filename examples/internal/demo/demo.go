// Package demo is what the example servers share: reading their environment, demo mode, and
// serving until interrupted. Each example's main.go keeps only what differs between
// frameworks, so that the four can be read side by side.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// Env is an example server's configuration, read from its environment.
type Env struct {
	Verifier   *core.Verifier
	AdminGroup string // ADMIN_GROUP, default "admins"
	Addr       string // ADDR, default 127.0.0.1:8080

	team *accesstest.Server // the fake team domain of demo mode; nil otherwise
	out  io.Writer
}

// Setup reads CF_ACCESS_TEAM_DOMAIN, CF_ACCESS_AUD (comma-separated), ADDR and ADMIN_GROUP.
// Without CF_ACCESS_TEAM_DOMAIN in the environment it runs in demo mode: it starts a fake
// team domain (accesstest) on loopback and configures itself against it. Demo mode never
// starts when the variable is set, even to something invalid: that is an error instead.
func Setup(out io.Writer) (*Env, error) {
	e := &Env{AdminGroup: envOr("ADMIN_GROUP", "admins"), Addr: envOr("ADDR", "127.0.0.1:8080"), out: out}
	if g := strings.TrimSpace(e.AdminGroup); g == "" {
		return nil, errors.New("ADMIN_GROUP is blank")
	}
	cfg := core.Config{}
	if team, ok := os.LookupEnv("CF_ACCESS_TEAM_DOMAIN"); ok {
		cfg.TeamDomain = team
		for _, aud := range strings.Split(os.Getenv("CF_ACCESS_AUD"), ",") {
			if aud = strings.TrimSpace(aud); aud != "" {
				cfg.Audiences = append(cfg.Audiences, aud)
			}
		}
	} else {
		e.team = accesstest.NewServer()
		cfg = e.team.Config()
	}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("%w (set CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD)", err)
	}
	e.Verifier = v
	return e, nil
}

// Demo reports whether the server runs against the fake team domain.
func (e *Env) Demo() bool { return e.team != nil }

// Close stops the fake team domain, if any.
func (e *Env) Close() {
	if e.team != nil {
		e.team.Close()
	}
}

// Listen opens Addr and says where the server listens; in demo mode it also prints the
// banner and ready-to-paste curl commands.
func (e *Env) Listen(framework string) (net.Listener, error) {
	ln, err := net.Listen("tcp", e.Addr)
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	if e.Demo() {
		e.banner(base)
	}
	fmt.Fprintf(e.out, "cfaccess %s example listening on %s\n", framework, base)
	return ln, nil
}

func (e *Env) banner(base string) {
	member := e.team.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{e.AdminGroup, "staff"}, ExpiresAt: time.Now().Add(24 * time.Hour)})
	outsider := e.team.Mint(accesstest.Token{Email: "bob@example.com", Groups: []string{"staff"}, ExpiresAt: time.Now().Add(24 * time.Hour)})
	line := strings.Repeat("=", 78)
	fmt.Fprintf(e.out, `%[1]s
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

`, line, e.team.URL, member, outsider, base, e.AdminGroup)
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

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
