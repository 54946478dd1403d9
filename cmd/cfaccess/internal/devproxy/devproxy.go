// Package devproxy is the cfaccess dev subcommand: a local Cloudflare Access in front of
// any application. It is a reverse proxy that adds a freshly signed token for the chosen
// identity to every request, as Access does, and answers as the team domain of those
// tokens on its own origin (the key set, get-identity, login and logout), so that the
// application runs unchanged, configured with CF_ACCESS_TEAM_DOMAIN=http://<its address>.
// A page on the proxy switches the identity in the browser.
//
// It signs valid tokens for anyone who can reach it: it listens on loopback unless told
// otherwise, and says so loudly when told.
package devproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/core"
)

// DefaultListen is where the proxy listens unless -listen says otherwise: loopback only.
const DefaultListen = "127.0.0.1:8787"

// DefaultEmail is the user requests are signed for unless -email says otherwise.
const DefaultEmail = "dev@example.com"

// shutdownTimeout bounds a graceful shutdown.
const shutdownTimeout = 5 * time.Second

var command = cli.Command{
	Name:     "dev",
	Synopsis: "-upstream URL -aud AUD [-listen ADDR] [-email E] [-groups G1,G2] [-idp TYPE] [-service-token CLIENT_ID] [-json]",
	About: `A local Cloudflare Access in front of your application, for development: a reverse proxy
that adds a freshly signed Cf-Access-Jwt-Assertion header and CF_Authorization cookie to
every request, and serves the team domain's endpoints (/cdn-cgi/access/certs,
get-identity, login, logout) on its own origin, as Access would. Run the application
unchanged, with CF_ACCESS_TEAM_DOMAIN=http://ADDR and CF_ACCESS_AUD=AUD.

Browse the application through the proxy, and switch identity (a user, their groups and
identity provider, a service token, or nobody) at http://ADDR/cdn-cgi/access/dev: the
choice is remembered in a cookie. The flags set the default. Streaming responses,
websockets and large uploads pass through.

-aud defaults to CF_ACCESS_AUD. Anyone who can reach the proxy gets a valid token for any
identity: it listens on loopback unless -listen says otherwise.`,
	Example: `  cfaccess dev -upstream http://127.0.0.1:8080 -aud myapp -email ann@example.com -groups admins
  # then, in another terminal:
  CF_ACCESS_TEAM_DOMAIN=http://127.0.0.1:8787 CF_ACCESS_AUD=myapp go run ./cmd/myapp
  # and browse http://127.0.0.1:8787/ ; switch identity at http://127.0.0.1:8787/cdn-cgi/access/dev`,
}

// Run runs the subcommand with args (after its name) and returns the exit status. It
// serves until ctx is done.
func Run(ctx context.Context, env cli.Env, args []string) int {
	fs := command.NewFlagSet()
	listen := fs.String("listen", DefaultListen, "the `ADDR`ess to listen on; keep it on loopback")
	upstream := fs.String("upstream", "", "the application's `URL`, e.g. http://127.0.0.1:8080 (required)")
	aud := fs.String("aud", "", "the `AUD` tag tokens are signed for: the application's CF_ACCESS_AUD (default $"+core.EnvAudiences+")")
	email := fs.String("email", DefaultEmail, "the user's e-mail `address`")
	groups := fs.String("groups", "", "the user's groups, comma-separated: `G1,G2`")
	idp := fs.String("idp", "", "the identity provider the user signed in with, which shapes get-identity: `TYPE` of google-apps (default), onetimepin, okta, azureAD, github, saml, oidc")
	service := fs.String("service-token", "", "sign for this service token instead of the user: its `CLIENT_ID`, <hex>.access")
	asJSON := fs.Bool("json", false, "print the start-up details as one JSON object, and logs as JSON lines")
	positional, status, ok := command.Parse(env, fs, args)
	if !ok {
		return status
	}
	if len(positional) > 0 {
		return command.UsageError(env, "unexpected argument %q", positional[0])
	}

	up, err := parseUpstream(*upstream)
	if err != nil {
		return command.UsageError(env, "-upstream: %v", err)
	}
	audience := strings.TrimSpace(*aud)
	if audience == "" {
		// CF_ACCESS_AUD may list several; the application accepts any of them.
		audience, _, _ = strings.Cut(env.Var(core.EnvAudiences), ",")
		audience = strings.TrimSpace(audience)
	}
	if audience == "" {
		return command.UsageError(env, "-aud is required: the AUD tag the application is configured with (%s)", core.EnvAudiences)
	}
	if err := (core.Config{TeamDomain: "http://127.0.0.1", Audiences: []string{audience}}).Validate(); err != nil {
		return command.UsageError(env, "-aud: %v", err)
	}
	id := Identity{Email: strings.TrimSpace(*email), Groups: ParseGroups(*groups), ServiceToken: strings.TrimSpace(*service)}
	id.Service = id.ServiceToken != ""
	if id.IdP, err = ParseIdP(*idp); err != nil {
		return command.UsageError(env, "-idp: %v", err)
	}
	if err := validGroups(id.Groups); err != nil {
		return command.UsageError(env, "-groups: %v", err)
	}
	if err := id.Validate(); err != nil {
		flag := "-email"
		if id.Service {
			flag = "-service-token"
		}
		return command.UsageError(env, "%s: %v", flag, err)
	}
	host, exposed, err := originHost(*listen)
	if err != nil {
		return command.UsageError(env, "-listen: %v", err)
	}
	if _, port, _ := net.SplitHostPort(*listen); sameHostPort(up, host, port) {
		return command.UsageError(env, "-upstream %s is this proxy itself", up)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(env.Stderr, "cfaccess dev: %v\n", err)
		return cli.ExitRefused
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	origin, err := core.ParseTeamDomain("http://" + net.JoinHostPort(host, port))
	if err != nil { // originHost accepted only loopback hosts: not expected
		ln.Close()
		fmt.Fprintf(env.Stderr, "cfaccess dev: %v\n", err)
		return cli.ExitRefused
	}

	var log *slog.Logger
	if *asJSON {
		log = slog.New(slog.NewJSONHandler(env.Stderr, nil))
	} else {
		log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	}
	p, err := New(Config{Origin: origin, Upstream: up, AUD: audience, Default: id, Log: log})
	if err != nil {
		ln.Close()
		return command.UsageError(env, "%v", err)
	}
	defer p.Close()

	if exposed {
		fmt.Fprintf(env.Stderr, "WARNING: cfaccess dev listens on %s, which other machines may reach: whoever connects "+
			"gets valid tokens for any identity. Use -listen 127.0.0.1:%s unless you mean it.\n", ln.Addr(), port)
	}
	start := startup{
		Listen: ln.Addr().String(), TeamDomain: origin, AUD: audience, Upstream: up.String(),
		AppURL: origin + "/", SwitcherURL: origin + SwitcherPath, Identity: id,
	}
	if *asJSON {
		if err := cli.WriteJSON(env.Stdout, start); err != nil {
			ln.Close()
			return cli.ExitRefused
		}
	} else {
		start.write(env.Stdout, cli.StyleFor(env.Stdout, env))
	}
	return serve(ctx, env, ln, p)
}

// serve serves p on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, env cli.Env, ln net.Listener, p *Proxy) int {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		// No read or write timeout: uploads, streams and websockets last as long as they last.
		ErrorLog: slog.NewLogLogger(p.cfg.Log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(env.Stderr, "cfaccess dev: %v\n", err)
		return cli.ExitRefused
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // streams and websockets still open: end them
	}
	return cli.ExitOK
}

// startup is what the proxy prints when it starts; -json prints it as is.
type startup struct {
	Listen      string   `json:"listen"`
	TeamDomain  string   `json:"team_domain"` // CF_ACCESS_TEAM_DOMAIN for the application
	AUD         string   `json:"aud"`         // CF_ACCESS_AUD for the application
	Upstream    string   `json:"upstream"`
	AppURL      string   `json:"app_url"`
	SwitcherURL string   `json:"switcher_url"`
	Identity    Identity `json:"identity"` // the default
}

func (s startup) write(w io.Writer, st cli.Style) {
	fmt.Fprintf(w, "%s a local Cloudflare Access in front of %s\n\n", st.Bold("cfaccess dev:"), s.Upstream)
	fmt.Fprintf(w, "  Run the application with\n    %s\n\n", st.Bold(fmt.Sprintf("%s=%s %s=%s", core.EnvTeamDomain, s.TeamDomain, core.EnvAudiences, s.AUD)))
	fmt.Fprintf(w, "  Browse            %s\n", st.Green(s.AppURL))
	fmt.Fprintf(w, "  Switch identity   %s\n", st.Green(s.SwitcherURL))
	fmt.Fprintf(w, "  Signed in as      %s\n\n", s.Identity)
	fmt.Fprintf(w, "%s\n", st.Dim("Every request gets a freshly signed token for the chosen identity. Ctrl-C stops."))
}

// parseUpstream reads -upstream: an http or https URL, or host:port for http.
func parseUpstream(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("required: the application's URL, e.g. http://127.0.0.1:8080")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: the scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: give an origin, with a path prefix at most", s)
	}
	return u, nil
}

// originHost returns the host of the team domain for -listen addr, and whether the
// proxy is then reachable from other machines. Access tokens name their team domain, and
// the cfaccess verifier accepts plain http for loopback hosts only: a proxy listening on
// every interface is the team domain http://127.0.0.1:PORT (or [::1]) for an application
// on this machine; one listening on another machine's view of this one could not be.
func originHost(addr string) (host string, exposed bool, err error) {
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", false, fmt.Errorf("%q: bad port", addr)
	}
	ip := net.ParseIP(h)
	switch {
	case h == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
		return "127.0.0.1", true, nil
	case ip != nil && ip.IsUnspecified():
		return "::1", true, nil
	case isLoopback(h):
		return h, false, nil
	}
	return "", false, fmt.Errorf("%s is not a loopback address: applications accept a plain-http team domain on loopback only; "+
		"listen on 127.0.0.1, or on every interface (:%s) with the application on this machine", h, cmp.Or(port, "8787"))
}

// sameHostPort reports whether u is the proxy's own address, which would loop.
func sameHostPort(u *url.URL, host, port string) bool {
	uport := u.Port()
	if uport == "" {
		uport = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if uport != port {
		return false
	}
	h := u.Hostname()
	return h == host || (isLoopback(h) && isLoopback(host))
}

// dropTime leaves the time out of text log lines: people read them as they come.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
