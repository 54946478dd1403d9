package forwardauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// The headers of an answer that lets a request through, in oauth2-proxy's names, so that
// existing proxy configurations and applications read them unchanged. Every one is set on
// every such answer, empty where it does not apply: a proxy that copies a header the answer
// lacks would otherwise pass on a client's own (Caddy before 2.10 sends its placeholder's
// name instead).
const (
	HeaderUser         = "X-Auth-Request-User"          // the user's e-mail, or a service token's client ID
	HeaderEmail        = "X-Auth-Request-Email"         // the user's e-mail; empty for a service token
	HeaderGroups       = "X-Auth-Request-Groups"        // the user's groups, comma-separated, when the location asks for groups
	HeaderServiceToken = "X-Auth-Request-Service-Token" // a service token's client ID; empty for a user
)

// The paths this server answers.
const (
	PathAuth    = "/auth"
	PathHealthz = "/healthz"
)

// Options configure a Handler.
type Options struct {
	// Logger receives the mistakes found in auth requests' queries, once each. Nil means
	// the verifier's logger.
	Logger *slog.Logger

	// Observe is called with the Event of every decision, on the request's goroutine: the
	// log (core.LogEvents) and metrics observe here. Nil observes nothing.
	Observe func(core.Event)

	// LoginRedirect answers a browser's page navigation that has no token, or an expired
	// one, with a 302 to the Access login page (see adapter.WithLoginRedirect), which the
	// proxy passes on; API clients keep getting 401.
	LoginRedirect bool
}

// Handler answers the auth requests of a reverse proxy (nginx auth_request, Caddy
// forward_auth, Traefik forwardAuth) on GET /auth, and health checks on GET /healthz.
type Handler struct {
	v       *core.Verifier
	locs    *locations
	observe func(core.Event)
}

// NewHandler returns a Handler deciding with v.
func NewHandler(v *core.Verifier, o Options) (*Handler, error) {
	if v == nil {
		return nil, errors.New("forwardauth: nil Verifier")
	}
	log := o.Logger
	if log == nil {
		log = v.Logger()
	}
	var opts []adapter.Option
	if o.LoginRedirect {
		opts = append(opts, adapter.WithLoginRedirect())
	}
	if o.Observe != nil {
		opts = append(opts, adapter.WithObserver(o.Observe))
	}
	return &Handler{v: v, locs: newLocations(v, log, opts), observe: o.Observe}, nil
}

// ServeHTTP answers /auth and /healthz, and 404 elsewhere.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathAuth:
		h.auth(w, r)
	case PathHealthz:
		h.health(w, r)
	default:
		http.NotFound(w, r)
	}
}

// auth decides the request the proxy asks about. Any method is accepted: what counts is
// the original request's, which the proxy names in X-Forwarded-Method.
func (h *Handler) auth(w http.ResponseWriter, r *http.Request) {
	loc := h.locs.get(r.URL.RawQuery)
	if loc.err != nil {
		if h.observe != nil {
			_, src := adapter.TokenFrom(proxied{r})
			h.observe(core.Event{Outcome: core.OutcomeDenied, Code: loc.err.Code, Reason: loc.err.Reason, Source: src, Err: loc.err})
		}
		adapter.ErrorResponse(loc.err).Write(w)
		return
	}
	ctx := r.Context()
	d := loc.guard.Check(ctx, proxied{r})
	if !d.Allowed() {
		d.Response().Write(w)
		return
	}
	c := d.Caller.Claims
	var groups string
	if loc.groups && !c.IsServiceToken() {
		gs, err := d.Caller.Groups(ctx) // looked up by the policy just now: from the cache
		if err != nil {
			adapter.ErrorResponse(err).Write(w)
			return
		}
		groups = groupList(gs)
	}
	user, email, service := c.Email, c.Email, ""
	if c.IsServiceToken() {
		user, email, service = c.CommonName, "", c.CommonName
	}
	hdr := w.Header()
	hdr.Set(HeaderUser, headerSafe(user))
	hdr.Set(HeaderEmail, headerSafe(email))
	hdr.Set(HeaderGroups, groups)
	hdr.Set(HeaderServiceToken, headerSafe(service))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// groupList joins the groups' names (or IDs, for a group known by nothing else) with commas,
// leaving out any that a comma would make ambiguous.
func groupList(gs []core.Group) string {
	var b strings.Builder
	for _, g := range gs {
		name := g.Name
		if name == "" {
			name = g.ID
		}
		if name == "" {
			name = g.Email
		}
		name = headerSafe(name)
		if name == "" || strings.Contains(name, ",") {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	return b.String()
}

// headerSafe drops control characters from an identity provider's value, so that it cannot
// end the header line (CR, LF) or make a proxy reject the answer (nginx refuses NUL).
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// health answers 200 once the team's signing keys have loaded, and 503 until then, with the
// reason: an instance that cannot verify a token yet is not ready. A key refresh that fails
// later keeps the keys, and the answer 200.
func (h *Handler) health(w http.ResponseWriter, _ *http.Request) {
	st := h.v.Stats()
	body := struct {
		Status       string `json:"status"`
		Team         string `json:"team"`
		Keys         int    `json:"keys"`
		KeysLoadedAt string `json:"keys_loaded_at,omitempty"`
		KeyError     string `json:"key_error,omitempty"`
	}{Status: "ok", Team: h.v.TeamDomain(), Keys: len(st.KeyIDs)}
	if !st.KeysLoadedAt.IsZero() {
		body.KeysLoadedAt = st.KeysLoadedAt.UTC().Format(time.RFC3339)
	}
	if st.KeyError != nil {
		body.KeyError = st.KeyError.Error()
	}
	status := http.StatusOK
	if len(st.KeyIDs) == 0 {
		body.Status, status = "unavailable", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
