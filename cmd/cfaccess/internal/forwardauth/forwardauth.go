// Package forwardauth is the cfaccess forward-auth subcommand: the verification of the
// cfaccess middleware for applications that are not Go, behind a reverse proxy that asks
// a server about each request (nginx auth_request, Caddy forward_auth, Traefik forwardAuth).
//
// The proxy asks GET /auth, passing the original request's headers on (the Access token
// header and cookie) and naming its host, method and URI in X-Forwarded-Host,
// X-Forwarded-Method and X-Forwarded-Uri (or X-Original-URI). The answer is 200 with the
// caller in X-Auth-Request-* headers, which the proxy copies to the application, or the
// middleware's refusal: 401, 403, 503 with Retry-After, or 500 for a query that is wrong,
// with the middleware's JSON bodies. The query narrows each location's policy in
// oauth2-proxy's convention (allowed_groups, allowed_emails, allowed_email_domains) plus
// allowed_service_tokens.
//
// The X-Forwarded-* headers are trusted: only the proxy may reach this server, which is why
// it listens on loopback unless told otherwise. cmd/cfaccess/docs/forward-auth.md has the
// proxies' configurations, which this package's tests run behind the real proxies.
package forwardauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/otelaccess"
	"github.com/cfaccess/cfaccess/core/redisstore"
)

// DefaultListen is where the server listens unless -listen says otherwise: loopback, since
// whoever reaches it can name any host and URI in the X-Forwarded-* headers.
const DefaultListen = "127.0.0.1:9091"

// ShutdownTimeout is how long a stopping server waits for the requests under way.
const ShutdownTimeout = 10 * time.Second

var command = cli.Command{
	Name:     "forward-auth",
	Synopsis: "[-listen ADDR] -team TEAM (-aud AUD[,AUD…] | -host-aud HOST=AUD …)",
	About: `
Verify Cloudflare Access tokens for a reverse proxy: nginx auth_request, Caddy forward_auth
and Traefik forwardAuth ask GET /auth about each request and get 200, with the caller in
X-Auth-Request-User, X-Auth-Request-Email, X-Auth-Request-Groups and
X-Auth-Request-Service-Token, or the cfaccess middleware's refusal (401, 403, 503). The query
narrows a location's policy: allowed_groups, allowed_emails, allowed_email_domains,
allowed_service_tokens (comma-separated values). GET /healthz answers 200 once the team's keys
have loaded.

The proxy's X-Forwarded-Host, X-Forwarded-Method and X-Forwarded-Uri are trusted: only the
proxy may reach this server. It listens on loopback unless -listen says otherwise.

Without -team, -aud and -host-aud, the environment configures it: CF_ACCESS_TEAM_DOMAIN,
CF_ACCESS_AUD (comma-separated), CF_ACCESS_HOST_AUD (HOST=AUD pairs); a flag given replaces
its variable. CF_ACCESS_REDIS_URL and CF_ACCESS_CACHE_KEY (hex) share identities with the
other instances of a fleet through Redis.`,
	Example: `  cfaccess forward-auth -team myteam -aud 4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2
  CF_ACCESS_TEAM_DOMAIN=myteam CF_ACCESS_AUD=4714c135… cfaccess forward-auth -login-redirect
  cfaccess forward-auth -team myteam -host-aud app.example.com=4714c135… -host-aud wiki.example.com=9e1d…

  The nginx, Caddy and Traefik configurations, and what each header means:
  cmd/cfaccess/docs/forward-auth.md`,
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// Run runs the subcommand with args (after its name) and returns the exit status: 0 once
// ctx is done and the server has stopped, 1 when it cannot serve, 2 for a mistake in the
// flags or the environment.
func Run(ctx context.Context, env cli.Env, args []string) int {
	fs := command.NewFlagSet()
	listen := fs.String("listen", DefaultListen, "the `address` to listen on; anything but loopback must be reachable by the proxy alone")
	team := fs.String("team", "", "the team domain: myteam, myteam.cloudflareaccess.com or its https URL (default $"+core.EnvTeamDomain+")")
	var auds, hostAuds listFlag
	fs.Var(&auds, "aud", "the application's `AUD` tag; several: comma-separated or repeated (default $"+core.EnvAudiences+")")
	fs.Var(&hostAuds, "host-aud", "bind a host to its application's AUD tag, as `HOST=AUD`; repeated for each (default $"+core.EnvHostAudiences+")")
	groupsClaim := fs.String("groups-claim", "", "read groups from this `name` of the token's custom claim (SAML attributes or OIDC claims Access passes on), looking them up only when the token lacks it")
	groupsAttribute := fs.String("groups-attribute", "", "read groups from this `name` of get-identity's saml_attributes or oidc_fields, for SAML and generic OIDC identity providers")
	loginRedirect := fs.Bool("login-redirect", false, "answer a browser's page load without a valid token with a 302 to the Access login page, not 401")
	metricsAddr := fs.String("metrics", env.Getenv(EnvMetrics), "serve Prometheus text at GET /metrics on this `address`, a listener of its own (default $"+EnvMetrics+"; none when empty)")
	level := slog.LevelInfo
	fs.TextVar(&level, "log-level", level, "log decisions and events from this `level` on: debug (every request), info (refusals), warn, error")
	rest, status, ok := command.Parse(env, fs, args)
	if !ok {
		return status
	}
	if len(rest) > 0 {
		return command.UsageError(env, "unexpected argument %q", rest[0])
	}

	cfg, err := config(env, *team, auds, hostAuds)
	if err != nil {
		return command.UsageError(env, "%v", err)
	}
	switch {
	case *groupsClaim != "" && *groupsAttribute != "":
		return command.UsageError(env, "give -groups-claim or -groups-attribute, not both")
	case *groupsClaim != "":
		cfg.Groups = core.GroupsClaim(*groupsClaim)
	case *groupsAttribute != "":
		cfg.Groups = core.GroupsAttribute(*groupsAttribute)
	}
	if err := cfg.Validate(); err != nil {
		return command.UsageError(env, "%v", err)
	}
	if cfg.Identities.Shared, err = redisstore.FromEnv(); err != nil {
		return command.UsageError(env, "%v", err)
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("cfaccess forward-auth: cannot listen", "addr", *listen, "error", err)
		return cli.ExitRefused
	}
	defer ln.Close()
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		log.Warn("cfaccess forward-auth: listening beyond loopback; X-Forwarded-Host, X-Forwarded-Method and X-Forwarded-Uri are trusted, "+
			"so whoever reaches this address can have a token checked against any host: let the proxy alone reach it (a private network, a firewall)",
			"addr", ln.Addr().String())
	}

	// Every decision goes to the log, at the levels of core.LogEvents, and, with -metrics,
	// to OpenTelemetry (core/otelaccess) as well, with the verifier's state and its calls to
	// the team domain.
	observe := core.LogEvents(log)
	var tel *otelaccess.Telemetry
	if *metricsAddr != "" {
		t, stop, err := metrics(*metricsAddr, log)
		if err != nil {
			log.Error("cfaccess forward-auth: cannot serve metrics", "error", err)
			return cli.ExitRefused
		}
		defer stop(context.Background())
		tel, cfg.HTTPClient = t, &http.Client{Transport: t.Transport(nil)}
		logEvent := observe
		observe = func(e core.Event) { logEvent(e); t.Observe(e) }
	}

	v, err := core.NewVerifier(cfg) // waits a few seconds at most for the keys, and serves 503 until they come
	if err != nil {
		return command.UsageError(env, "%v", err)
	}
	if tel != nil {
		reg, err := tel.Watch(v)
		if err != nil {
			log.Error("cfaccess forward-auth: cannot watch the verifier", "error", err)
			return cli.ExitRefused
		}
		defer reg.Unregister()
	}
	h, err := NewHandler(v, Options{Logger: log, Observe: observe, LoginRedirect: *loginRedirect})
	if err != nil {
		log.Error("cfaccess forward-auth", "error", err)
		return cli.ExitRefused
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	attrs := []any{"addr", ln.Addr().String(), "team", v.TeamDomain()}
	if len(cfg.HostAudiences) > 0 {
		attrs = append(attrs, "hosts", len(cfg.HostAudiences))
	}
	if cfg.Identities.Shared != nil {
		attrs = append(attrs, "identity_store", "redis")
	}
	log.Info("cfaccess forward-auth: listening", attrs...)

	select {
	case err := <-served:
		log.Error("cfaccess forward-auth: the server stopped", "error", err)
		return cli.ExitRefused
	case <-ctx.Done():
	}
	log.Info("cfaccess forward-auth: shutting down", "grace", ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("cfaccess forward-auth: requests still under way were cut off", "error", err)
		return cli.ExitRefused
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("cfaccess forward-auth: the server stopped", "error", err)
		return cli.ExitRefused
	}
	log.Info("cfaccess forward-auth: stopped")
	return cli.ExitOK
}

// config returns the Config that the flags and the environment describe. With none of
// -team, -aud and -host-aud it is the environment convention of core.ConfigFromEnv, read
// from the process; otherwise each flag given replaces its variable, and the variables of
// the others are read through env.
func config(env cli.Env, team string, auds, hostAuds []string) (core.Config, error) {
	if team == "" && len(auds) == 0 && len(hostAuds) == 0 {
		cfg, err := core.ConfigFromEnv()
		if err != nil {
			return core.Config{}, fmt.Errorf("%w\n(or give -team TEAM and -aud AUD)", err)
		}
		return cfg, nil
	}
	hostFrom := "-host-aud"
	if team == "" {
		team = env.Var(core.EnvTeamDomain)
	}
	if strings.TrimSpace(team) == "" {
		return core.Config{}, errors.New("no team domain: give -team TEAM (myteam, myteam.cloudflareaccess.com) or set " + core.EnvTeamDomain)
	}
	if len(auds) == 0 {
		if v := env.Var(core.EnvAudiences); v != "" {
			auds = []string{v}
		}
	}
	if len(hostAuds) == 0 {
		if v := env.Var(core.EnvHostAudiences); v != "" {
			hostAuds, hostFrom = []string{v}, core.EnvHostAudiences
		}
	}
	cfg := core.Config{TeamDomain: team}
	for _, a := range auds {
		for aud := range strings.SplitSeq(a, ",") {
			if aud = strings.TrimSpace(aud); aud != "" {
				cfg.Audiences = append(cfg.Audiences, aud)
			}
		}
	}
	for _, h := range hostAuds {
		for _, pair := range strings.FieldsFunc(h, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			host, aud, ok := strings.Cut(pair, "=")
			if !ok || host == "" || aud == "" {
				return core.Config{}, fmt.Errorf("%s %q: give HOST=AUD, e.g. app.example.com=<AUD tag>", hostFrom, pair)
			}
			if cfg.HostAudiences == nil {
				cfg.HostAudiences = make(map[string][]string)
			}
			cfg.HostAudiences[host] = append(cfg.HostAudiences[host], aud)
		}
	}
	if len(cfg.Audiences) == 0 && len(cfg.HostAudiences) == 0 {
		return core.Config{}, fmt.Errorf("no AUD tag: give -aud AUD (the application's Application Audience tag) or -host-aud HOST=AUD, or set %s",
			core.EnvAudiences)
	}
	return cfg, nil // Run validates it, with the rest of the flags
}
