package devproxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// maxForm bounds a post of the identity form.
const maxForm = 64 << 10

type pageData struct {
	Title  string
	Error  string
	Notice string

	Current   string // who requests are signed for
	SignedOut bool
	Kind      string // "user", "service" or "out", as the form shows it
	Email     string
	Groups    string
	IdP       accesstest.IdP
	Service   string
	IdPs      []idpOption
	Default   string
	CSRF      string
	Origin    string
	AUD       string
	Upstream  string
	Claims    string // the payload of a token for Current, pretty
	EnvTeam   string
	EnvAUD    string
	AttrNote  bool // the provider delivers groups as attributes
	ShowForm  bool
	LoginPath string
}

type idpOption struct {
	Value accesstest.IdP
	Name  string
}

func (p *Proxy) data(r *http.Request, id Identity, notice string) pageData {
	d := pageData{
		Title:     "Identity",
		Notice:    notice,
		Current:   id.String(),
		SignedOut: id.SignedOut,
		Kind:      "user",
		Email:     id.Email,
		Groups:    strings.Join(id.Groups, ", "),
		IdP:       id.idp(),
		Service:   id.ServiceToken,
		Default:   p.cfg.Default.String(),
		CSRF:      p.csrf,
		Origin:    p.cfg.Origin,
		AUD:       p.cfg.AUD,
		Upstream:  p.cfg.Upstream.String(),
		EnvTeam:   core.EnvTeamDomain,
		EnvAUD:    core.EnvAudiences,
		ShowForm:  true,
		LoginPath: "/cdn-cgi/access/login/" + url.PathEscape(r.Host) + "?kid=" + url.QueryEscape(p.cfg.AUD) + "&redirect_url=%2F",
	}
	for _, n := range idpNames {
		d.IdPs = append(d.IdPs, idpOption{n.idp, n.name})
	}
	switch {
	case id.SignedOut:
		d.Kind = "out"
	case id.Service:
		d.Kind = "service"
	}
	if d.Service == "" {
		d.Service = p.exampleID
	}
	d.AttrNote = !id.Service && (d.IdP == accesstest.SAML || d.IdP == accesstest.OIDC)
	if !id.SignedOut {
		d.Claims = payloadJSON(p.mint(id))
	}
	return d
}

func payloadJSON(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return ""
	}
	return out.String()
}

// switcher shows who requests are signed for, and the form to change it.
func (p *Proxy) switcher(w http.ResponseWriter, r *http.Request) {
	p.page(w, http.StatusOK, p.data(r, p.identityOf(r), ""))
}

// choose takes the form: a new identity, remembered in a cookie.
func (p *Proxy) choose(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cfaccess dev: the form could not be read: "+err.Error(), http.StatusBadRequest)
		return
	}
	prev := p.identityOf(r)
	if !p.sameOrigin(r) {
		d := p.data(r, prev, "")
		d.Error = "The form was not sent from this page, or from a page of an earlier run of cfaccess dev: nothing changed. Try again."
		p.page(w, http.StatusForbidden, d)
		return
	}
	if r.PostFormValue("action") == "reset" {
		p.forget(w)
		http.Redirect(w, r, SwitcherPath, http.StatusSeeOther)
		return
	}
	id := Identity{
		Email:        strings.TrimSpace(r.PostFormValue("email")),
		Groups:       ParseGroups(r.PostFormValue("groups")),
		ServiceToken: strings.TrimSpace(r.PostFormValue("service_token")),
	}
	idp, err := ParseIdP(r.PostFormValue("idp"))
	id.IdP = idp
	switch r.PostFormValue("kind") {
	case "service":
		id.Service = true
	case "out":
		id.Service, id.SignedOut = prev.Service, true
	}
	if err == nil {
		err = id.Validate()
	}
	if err != nil && id.SignedOut { // signing out needs no valid form
		id, err = prev, nil
		id.SignedOut = true
	}
	if err != nil {
		d := p.data(r, prev, "")
		d.Error = err.Error()
		d.Kind, d.Email, d.Groups, d.Service = r.PostFormValue("kind"), id.Email, r.PostFormValue("groups"), id.ServiceToken
		p.page(w, http.StatusBadRequest, d)
		return
	}
	p.remember(w, id)
	p.cfg.Log.Info("identity chosen", "as", id.String())
	http.Redirect(w, r, SwitcherPath, http.StatusSeeOther)
}

func (p *Proxy) page(w http.ResponseWriter, status int, d pageData) {
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, d); err != nil {
		http.Error(w, "cfaccess dev: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	// Not no-referrer: browsers then send "Origin: null" with the form, which sameOrigin
	// must refuse.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cfaccess dev · {{.Title}}</title>
<style>
  :root { color-scheme: light dark; --accent: #f38020; --muted: #6b7280; --line: #d1d5db; --bg2: #f9fafb; }
  @media (prefers-color-scheme: dark) { :root { --muted: #9ca3af; --line: #374151; --bg2: #111827; } }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h1 span { color: var(--accent); }
  .sub { color: var(--muted); margin: 0 0 1.5rem; }
  .who { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 6px; padding: .7rem 1rem; margin-bottom: 1.5rem; background: var(--bg2); }
  .who strong { font-size: 1.05rem; }
  .who.out { border-left-color: var(--muted); }
  .error { border: 1px solid #dc2626; border-left: 4px solid #dc2626; border-radius: 6px; padding: .7rem 1rem; margin-bottom: 1.5rem; }
  .notice { border-left: 4px solid #16a34a; padding: .4rem 1rem; margin-bottom: 1.5rem; }
  fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 1rem; padding: .6rem 1rem 1rem; }
  legend { font-weight: 600; padding: 0 .3rem; }
  .kinds label { margin-right: 1.2rem; white-space: nowrap; }
  .row { display: grid; grid-template-columns: 9rem 1fr; gap: .5rem; align-items: center; margin-top: .6rem; }
  input[type=text], input[type=email], select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 4px; width: 100%; box-sizing: border-box; background: transparent; color: inherit; }
  .hint { color: var(--muted); font-size: .85rem; grid-column: 2; }
  button { font: inherit; padding: .45rem 1.1rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button.secondary { background: transparent; color: inherit; border-color: var(--line); }
  pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: .7rem; overflow-x: auto; font-size: .8rem; }
  code { font-size: .85rem; }
  a { color: var(--accent); }
  details { margin-top: 1.5rem; } summary { cursor: pointer; }
  footer { color: var(--muted); font-size: .85rem; margin-top: 2rem; border-top: 1px solid var(--line); padding-top: .8rem; }
</style>
</head>
<body>
<h1><span>cfaccess dev</span> · a local Cloudflare Access</h1>
<p class="sub">Every request to <a href="/">this origin</a> reaches <code>{{.Upstream}}</code> with a freshly signed Access token for the identity below.</p>

{{if .Error}}<div class="error" id="error">{{.Error}}</div>{{end}}
{{if .Notice}}<div class="notice" id="notice">{{.Notice}}</div>{{end}}

{{if .SignedOut}}<div class="who out" id="current">Requests reach the application with no token: <strong id="current-identity">{{.Current}}</strong> — <a href="{{.LoginPath}}" id="sign-in">sign in again</a></div>
{{else}}<div class="who" id="current">Requests carry a token for <strong id="current-identity">{{.Current}}</strong></div>{{end}}

{{if .ShowForm}}
<form method="post" action="/cdn-cgi/access/dev" id="identity-form">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset class="kinds">
  <legend>Who is calling</legend>
  <label><input type="radio" name="kind" value="user" id="kind-user"{{if eq .Kind "user"}} checked{{end}}> a user</label>
  <label><input type="radio" name="kind" value="service" id="kind-service"{{if eq .Kind "service"}} checked{{end}}> a service token</label>
  <label><input type="radio" name="kind" value="out" id="kind-out"{{if eq .Kind "out"}} checked{{end}}> nobody (signed out)</label>
</fieldset>
<fieldset>
  <legend>User</legend>
  <div class="row"><label for="email">E-mail</label><input type="text" name="email" id="email" value="{{.Email}}" autocomplete="off" spellcheck="false"></div>
  <div class="row"><label for="groups">Groups</label><input type="text" name="groups" id="groups" value="{{.Groups}}" placeholder="admins, staff" autocomplete="off" spellcheck="false">
    <span class="hint">comma-separated; served by get-identity as the provider delivers them</span></div>
  <div class="row"><label for="idp">Signed in with</label><select name="idp" id="idp">
    {{$cur := .IdP}}{{range .IdPs}}<option value="{{.Value}}"{{if eq .Value $cur}} selected{{end}}>{{.Name}} ({{.Value}})</option>{{end}}
  </select>
  <span class="hint">decides the shape of get-identity: one-time PIN has no groups; SAML and OIDC deliver groups as an attribute</span></div>
</fieldset>
<fieldset>
  <legend>Service token</legend>
  <div class="row"><label for="service_token">Client ID</label><input type="text" name="service_token" id="service_token" value="{{.Service}}" autocomplete="off" spellcheck="false">
    <span class="hint">a token with common_name set and no e-mail, as Access signs for a service token</span></div>
</fieldset>
<button type="submit" id="switch">Switch identity</button>
<button type="submit" name="action" value="reset" class="secondary" id="reset">Back to the default</button>
</form>
{{if .AttrNote}}<p class="hint">With SAML or OIDC, groups are an attribute: the application reads them with <code>Groups: core.GroupsAttribute("groups")</code>.</p>{{end}}
{{end}}

{{if .Claims}}<details id="claims"><summary>The token's claims</summary><pre>{{.Claims}}</pre>
<p>Its get-identity document: <a href="/cdn-cgi/access/get-identity">/cdn-cgi/access/get-identity</a></p></details>{{end}}

<footer>
Default: {{.Default}}. Run the application with
<code>{{.EnvTeam}}={{.Origin}} {{.EnvAUD}}={{.AUD}}</code>.
Sign out: <a href="/cdn-cgi/access/logout">/cdn-cgi/access/logout</a>.
</footer>
</body>
</html>
`))
