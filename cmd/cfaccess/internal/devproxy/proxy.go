package devproxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/teamclient"
)

// Paths the proxy answers itself, as Access answers them on an application's host and on
// the team domain.
const (
	accessPrefix = "/cdn-cgi/access/"
	SwitcherPath = "/cdn-cgi/access/dev"
)

// emailHeader is the header Access adds for a user, next to the token. Applications must
// not trust it alone, but many read it, so the proxy sends it as Access does.
const emailHeader = "Cf-Access-Authenticated-User-Email"

// Config is what a Proxy needs.
type Config struct {
	// Origin is the proxy's own origin, "http://127.0.0.1:8787": the team domain the
	// application is to be configured with, and the iss of every token.
	Origin   string
	Upstream *url.URL // the application
	AUD      string   // the aud of every token
	Default  Identity // who requests are signed for until the browser chooses
	Log      *slog.Logger
}

// Proxy is a local Access: a reverse proxy to one application that signs a token for the
// chosen identity on every request, and the team domain of that token on the same origin.
type Proxy struct {
	cfg  Config
	team *accesstest.Server
	rp   *httputil.ReverseProxy
	mux  *http.ServeMux
	csrf string // proves that a form was served by this process
	// exampleID fills the form's client ID: one of Cloudflare's shape, "<32 hex>.access".
	exampleID string
	cookie    string // the name of the cookie that remembers the chosen identity
}

// New returns a proxy for cfg. Close it when done.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.Default.Validate(); err != nil {
		return nil, err
	}
	if cfg.Upstream == nil || cfg.Upstream.Host == "" {
		return nil, errors.New("no upstream")
	}
	u, err := url.Parse(cfg.Origin)
	if err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		cfg:       cfg,
		team:      accesstest.NewServer(accesstest.WithOrigin(cfg.Origin), accesstest.WithIdP(cfg.Default.idp())),
		csrf:      randomHex(16),
		exampleID: randomHex(16) + ".access",
		// Cookies are shared by every port of a host: one proxy's choice must not leak to
		// another's.
		cookie: "cfaccess_dev_" + u.Port(),
	}
	p.team.AUD = cfg.AUD
	p.rp = &httputil.ReverseProxy{
		Rewrite:       p.rewrite,
		FlushInterval: -1, // streamed responses (server-sent events, chunked output) flow as written
		ErrorHandler:  p.upstreamError,
		ErrorLog:      slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+teamclient.CertsPath, p.team)
	mux.HandleFunc("GET "+teamclient.IdentityPath, p.getIdentity)
	mux.HandleFunc("GET "+teamclient.LoginPathPrefix+"{host...}", p.login)
	mux.HandleFunc(teamclient.LogoutPath, p.logout)
	mux.HandleFunc("GET "+SwitcherPath, p.switcher)
	mux.HandleFunc("POST "+SwitcherPath, p.choose)
	mux.HandleFunc(accessPrefix, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cfaccess dev: no such Access endpoint; the identity switcher is at "+SwitcherPath, http.StatusNotFound)
	})
	p.mux = mux
	return p, nil
}

// Close releases the team domain.
func (p *Proxy) Close() { p.team.Close() }

// ServeHTTP answers the Access paths itself and proxies everything else to the upstream.
// Paths are not cleaned or redirected on the way: the application sees them as sent.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lw := &loggingWriter{ResponseWriter: w}
	start := time.Now()
	if strings.HasPrefix(r.URL.Path, accessPrefix) {
		p.mux.ServeHTTP(lw, r)
		p.cfg.Log.Debug(r.Method+" "+r.URL.Path, "status", lw.status)
		return
	}
	id := p.identityOf(r)
	var tok string
	if !id.SignedOut {
		tok = p.mint(id)
	}
	p.rp.ServeHTTP(lw, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller{id, tok})))
	status := lw.status
	if status == 0 && r.Header.Get("Upgrade") != "" {
		status = http.StatusSwitchingProtocols
	}
	p.cfg.Log.Info(r.Method+" "+r.URL.Path, "status", status, "as", id.String(), "took", time.Since(start).Round(time.Millisecond))
}

type callerKey struct{}

type caller struct {
	id    Identity
	token string // "" when signed out
}

// rewrite makes the request the application receives: Access's token, as a header and a
// cookie, in place of any the browser sent; the browser's Host, as Access forwards it.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Upstream)
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	h := pr.Out.Header
	h.Del(core.HeaderName)
	h.Del(emailHeader)
	cookies := dropCookies(h.Values("Cookie"), core.CookieName, p.cookie)
	c, _ := pr.In.Context().Value(callerKey{}).(caller)
	if c.token != "" {
		h.Set(core.HeaderName, c.token)
		cookies = append(cookies, core.CookieName+"="+c.token)
		if !c.id.Service {
			h.Set(emailHeader, c.id.Email)
		}
	}
	h.Del("Cookie")
	if len(cookies) > 0 {
		h.Set("Cookie", strings.Join(cookies, "; "))
	}
}

// dropCookies returns the cookies of Cookie header values, but those called one of names,
// each spelled as the browser sent it.
func dropCookies(headers []string, names ...string) []string {
	var out []string
	for _, line := range headers {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || containsExact(names, strings.TrimSpace(name)) {
				continue
			}
			out = append(out, part)
		}
	}
	return out
}

func containsExact(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) { // the browser went away
		return
	}
	p.cfg.Log.Warn("the application did not answer", "upstream", p.cfg.Upstream.String(), "error", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "cfaccess dev: the application at %s did not answer: %v\nIs it running?\n", p.cfg.Upstream, err)
}

// mint signs a token for id, as Access would for this application.
func (p *Proxy) mint(id Identity) string {
	if id.Service {
		return p.team.Mint(accesstest.Token{CommonName: id.ServiceToken, Audience: []string{p.cfg.AUD}})
	}
	return p.team.Mint(accesstest.Token{
		Email:    id.Email,
		Groups:   id.Groups,
		IdP:      id.idp(),
		Audience: []string{p.cfg.AUD},
		// One nonce per identity, not per token: get-identity files identities under it,
		// and a token per request would otherwise file one per request, for good.
		IdentityNonce: nonce(id),
	})
}

func nonce(id Identity) string {
	sum := sha256.Sum256([]byte(id.encode()))
	return hex.EncodeToString(sum[:8])
}

// identityOf returns who the browser chose, or the default.
func (p *Proxy) identityOf(r *http.Request) Identity {
	c, err := r.Cookie(p.cookie)
	if err != nil {
		return p.cfg.Default
	}
	id, err := decodeIdentity(c.Value)
	if err != nil {
		return p.cfg.Default
	}
	return id
}

func (p *Proxy) remember(w http.ResponseWriter, id Identity) {
	http.SetCookie(w, &http.Cookie{
		Name: p.cookie, Value: id.encode(), Path: "/", MaxAge: 30 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (p *Proxy) forget(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: p.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// getIdentity answers get-identity: for the token of the CF_Authorization cookie, as
// Access does (an application's own lookup), or, from a browser, which holds no such
// cookie here, for the identity it chose, as Access answers a browser on the
// application's host.
func (p *Proxy) getIdentity(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(core.CookieName); err != nil || c.Value == "" {
		if id := p.identityOf(r); !id.SignedOut {
			r = r.Clone(r.Context())
			r.Header.Set("Cookie", core.CookieName+"="+p.mint(id))
		}
	}
	p.team.ServeHTTP(w, r)
}

// login signs the browser in, as the identity it had before it signed out (or the
// default), and sends it back to redirect_url, a path on this origin.
func (p *Proxy) login(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if kid := q.Get("kid"); kid != "" && kid != p.cfg.AUD {
		p.page(w, http.StatusBadRequest, pageData{
			Title: "Wrong application", Current: p.identityOf(r).String(), Origin: p.cfg.Origin, AUD: p.cfg.AUD,
			Upstream: p.cfg.Upstream.String(), EnvTeam: core.EnvTeamDomain, EnvAUD: core.EnvAudiences, Default: p.cfg.Default.String(),
			Error: fmt.Sprintf("The application asked to log in to the Access application %q, but this proxy signs tokens for %q. "+
				"Run the application with %s=%s, or start cfaccess dev with -aud %s.", kid, p.cfg.AUD, core.EnvAudiences, p.cfg.AUD, kid),
		})
		return
	}
	id := p.identityOf(r)
	id.SignedOut = false
	p.remember(w, id)
	target := q.Get("redirect_url")
	if !localPath(target) {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// logout signs the browser out: requests then reach the application with no token.
func (p *Proxy) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id := p.identityOf(r)
	id.SignedOut = true
	p.remember(w, id)
	p.page(w, http.StatusOK, p.data(r, id, "You are signed out of the application."))
}

// localPath reports whether a browser reads uri as a path on this origin (the rule of
// core's login URL): not "//host", not "/\host", no control characters, which browsers
// drop.
func localPath(uri string) bool {
	return strings.HasPrefix(uri, "/") && !strings.HasPrefix(uri, "//") && !strings.HasPrefix(uri, "/\\") &&
		strings.IndexFunc(uri, unicode.IsControl) < 0
}

// sameOrigin reports whether a form post comes from a page of this origin: the browser
// says so in Sec-Fetch-Site or Origin, and the form carries this process's token.
func (p *Proxy) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(p.csrf)) == 1
}

// loggingWriter remembers the status; Unwrap lets http.ResponseController flush and
// hijack (websockets) through it.
type loggingWriter struct {
	http.ResponseWriter
	status int
}

func (w *loggingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *loggingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// isLoopback reports whether host (an address or a name) is this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
