// Package inspect is the cfaccess inspect subcommand: it decodes a Cloudflare Access token
// for people, and with a team domain verifies it with the core's own verifier, listing
// every check and naming the one that fails.
//
// The token goes nowhere: the only request inspect makes is for the team's public key set,
// which carries no token, and the verifier is handed that key set rather than fetching it
// again. The token itself is never printed, only its TokenID.
package inspect

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/hosts"
)

var command = cli.Command{
	Name:     "inspect",
	Synopsis: "[-team TEAM] [-aud AUD[,AUD…]] [-json] [TOKEN | -]",
	About: `Decode a Cloudflare Access token: who it is for, its claims, when it expires. With a team
domain, verify it as the cfaccess middleware does, list every check (kid, signature, iss,
aud, exp, nbf, iat, type) and name the one that fails.

The token is the argument, or standard input: the token itself, a whole
Cf-Access-Jwt-Assertion or Cookie header line, or request headers pasted from a browser
or curl -v. It is never sent anywhere: inspect only fetches the team's public key set.
It is never printed whole either; its TokenID stands for it.

-team and -aud default to CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD, which the middleware
reads too. A token is verified only for an application: without an AUD, every other check
is made, and the status is 1.

Exit status: 0 when the token verifies (or, without a team domain, decodes); 1 when it
is refused, or cannot be checked; 2 for a usage error.`,
	Example: `  cfaccess inspect -team myteam -aud 4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2 eyJhbGciOi…
  pbpaste | cfaccess inspect -team myteam.cloudflareaccess.com -aud "$AUD"
  cloudflared access token -app=https://app.example.com | cfaccess inspect -json | jq .claims.email`,
}

// Options are what Run does not read from the command line; tests set them.
type Options struct {
	Now func() time.Time // nil: time.Now
}

// Run runs the subcommand with args (after its name) and returns the exit status.
func Run(ctx context.Context, env cli.Env, args []string) int {
	return RunWith(ctx, env, args, Options{})
}

// RunWith is Run with opts.
func RunWith(ctx context.Context, env cli.Env, args []string, opts Options) int {
	fs := command.NewFlagSet()
	team := fs.String("team", "", "the team domain: `TEAM`, TEAM.cloudflareaccess.com or its https:// URL (default $"+core.EnvTeamDomain+")")
	aud := fs.String("aud", "", "the application's `AUD` tag; several, comma-separated (default $"+core.EnvAudiences+")")
	asJSON := fs.Bool("json", false, "print one JSON object, for scripts")
	positional, status, ok := command.Parse(env, fs, args)
	if !ok {
		return status
	}
	if len(positional) > 1 {
		return command.UsageError(env, "one token at a time, got %d arguments", len(positional))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	teamIn, audIn := *team, *aud
	if !set["team"] {
		teamIn = env.Var(core.EnvTeamDomain)
	}
	if !set["aud"] {
		audIn = env.Var(core.EnvAudiences)
	}
	var canonical string
	if strings.TrimSpace(teamIn) != "" {
		c, err := core.ParseTeamDomain(teamIn)
		if err != nil {
			return command.UsageError(env, "-team: %v", err)
		}
		canonical = c
	} else if set["aud"] {
		return command.UsageError(env, "-aud needs -team (or %s): the team's keys are what verify a token", core.EnvTeamDomain)
	}
	var audiences []string
	for a := range strings.SplitSeq(audIn, ",") {
		if a = strings.TrimSpace(a); a != "" {
			audiences = append(audiences, a)
		}
	}
	if canonical != "" && len(audiences) > 0 {
		if err := (core.Config{TeamDomain: canonical, Audiences: audiences}).Validate(); err != nil {
			return command.UsageError(env, "-aud: %v", err)
		}
	}

	input, status, ok := readInput(env, positional)
	if !ok {
		return status
	}
	tok, err := ExtractToken(input)
	if err != nil {
		return command.UsageError(env, "%v", err)
	}

	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	r := Inspect(ctx, tok, canonical, audiences, now())
	if r.Disagreement != "" {
		fmt.Fprintf(env.Stderr, "cfaccess inspect: %s\n", r.Disagreement)
	}
	if *asJSON {
		if err := cli.WriteJSON(env.Stdout, r); err != nil {
			fmt.Fprintf(env.Stderr, "cfaccess inspect: %v\n", err)
			return cli.ExitRefused
		}
	} else {
		r.write(env.Stdout, cli.StyleFor(env.Stdout, env))
	}
	return r.ExitStatus()
}

// readInput returns the argument, or standard input for none or "-".
func readInput(env cli.Env, positional []string) (string, int, bool) {
	if len(positional) == 1 && positional[0] != "-" {
		return positional[0], cli.ExitOK, true
	}
	if env.Stdin == nil {
		return "", command.UsageError(env, "no token given: pass it as an argument or on standard input"), false
	}
	if cli.IsTerminal(env.Stdin) {
		fmt.Fprintln(env.Stderr, "Paste a token or a header line, then press Enter and Ctrl-D:")
	}
	b, err := io.ReadAll(io.LimitReader(env.Stdin, MaxInput+1))
	if err != nil {
		return "", command.UsageError(env, "reading standard input: %v", err), false
	}
	if len(b) > MaxInput {
		return "", command.UsageError(env, "standard input is over %d KiB: that is no token", MaxInput>>10), false
	}
	return string(b), cli.ExitOK, true
}

// Inspect decodes tok and, with a team domain, checks it against team's key set and
// audiences at now.
func Inspect(ctx context.Context, tok, team string, audiences []string, now time.Time) *Report {
	d := Decode(tok)
	r := &Report{
		TokenID: core.TokenID(tok),
		Kind:    d.Kind(),
		Header:  d.RawHead,
		Claims:  d.Raw,
		Team:    team,
		Now:     now.Unix(),
		Leeway:  core.DefaultLeeway.Seconds(),
		Checks:  []Check{},
		decoded: d,
		now:     now,
	}
	if d.Err != nil {
		r.DecodeError = d.Err.Error()
	}
	if team == "" {
		r.decodeOnly()
		return r
	}
	r.Audiences = audiences

	ks, kerr := FetchKeys(ctx, team, nil)
	in := Inputs{Token: tok, Team: team, Audiences: audiences, Now: now, Leeway: core.DefaultLeeway, KeysErr: kerr}
	if ks != nil {
		in.Keys, in.Ambiguous = ks.Keys, ks.Ambiguous
	}
	r.Checks = Evaluate(in)
	first := First(r.Checks)
	if kerr != nil {
		r.Verdict = Unavailable
		r.Message = fmt.Sprintf("the team's key set could not be fetched from %s/cdn-cgi/access/certs: %v", team, kerr)
		if first != nil {
			r.Message += fmt.Sprintf("; the token fails %s whatever the keys", first.Name)
		}
		return r
	}

	// The verifier needs an audience: without one, it is given the token's own, so that
	// its verdict is on everything else.
	verifyAuds := audiences
	if len(verifyAuds) == 0 {
		verifyAuds = usableAudiences(tok, team)
	}
	verr := Verify(ctx, team, verifyAuds, ks, tok, now)
	reason, msg := describe(verr)
	e, noAud := core.AsError(verr), len(audiences) == 0
	switch {
	case e != nil && e.Code == core.CodeUnavailable:
		r.Verdict, r.Reason, r.Message = Unavailable, reason, msg
	case e != nil && !(noAud && reason == core.ReasonAudience):
		r.Verdict, r.Reason, r.Message = Refused, reason, msg
	case noAud && first != nil:
		// The token's aud could not be given to the verifier, which refused it for that
		// before it looked further: the checks' own finding stands.
		r.Verdict, r.Reason, r.Message = Refused, first.Reason, first.Detail
	case noAud:
		r.Verdict = Incomplete
		r.Message = "every other check passes, but a token is valid only for an application: pass -aud with its AUD tag (or set " + core.EnvAudiences + ")"
	default:
		r.Verdict = Verified
		r.Message = fmt.Sprintf("the token is valid for %s at %s", strings.Join(audiences, ", "), team)
	}
	// The checks restate the verifier's rules so as to list them all; it has the last word,
	// and a disagreement is a bug to report.
	if !(noAud && reason == core.ReasonAudience) {
		var expected core.Reason
		if first != nil {
			expected = first.Reason
		}
		if expected != reason {
			r.Disagreement = fmt.Sprintf("the checks above name %q, the verifier %q: please report this", expected, reason)
		}
	}
	if r.Verdict == Refused {
		for _, c := range r.Checks {
			if c.Status == Fail && c.Reason == r.Reason {
				r.Failed = c.Name
				break
			}
		}
	}
	return r
}

// decodeOnly concludes without a team domain: the token decodes or not.
func (r *Report) decodeOnly() {
	d := r.decoded
	if d.Err != nil {
		r.Verdict, r.Reason = Refused, core.ReasonMalformed
		r.Message = "the token is malformed: " + cli.Printable(d.Err.Error())
		return
	}
	r.Verdict = Decoded
	r.Message = "pass -team (or set " + core.EnvTeamDomain + ") to check its signature and claims"
	if iss := d.String("iss"); iss != "" {
		if hint := teamHint(iss); hint != "" {
			r.Message += fmt.Sprintf("; it says it is from %s: -team %s", cli.Printable(iss), hint)
		} else {
			r.Message += fmt.Sprintf("; it says it is from %s", cli.Printable(iss))
		}
	}
}

// teamHint returns the -team spelling of iss when iss is a team domain's URL, "" otherwise.
func teamHint(iss string) string {
	c, err := core.ParseTeamDomain(iss)
	if err != nil || c != iss {
		return ""
	}
	u, err := url.Parse(c)
	if err != nil {
		return ""
	}
	if name, ok := strings.CutSuffix(u.Hostname(), ".cloudflareaccess.com"); ok && hosts.ValidLabel(name) {
		return name
	}
	return c
}

// usableAudiences returns the token's aud values that a Config accepts, or a placeholder
// that matches nothing: the verifier is then to be read for everything but aud.
func usableAudiences(tok, team string) []string {
	var out []string
	if claims, err := payloadOf(tok); err == nil {
		d := Unverified{}
		if ms, err := members(claims); err == nil {
			d.Claims = ms
		}
		var list []string
		if err := json.Unmarshal(d.Claim("aud"), &list); err != nil {
			if s := d.String("aud"); s != "" {
				list = []string{s}
			}
		}
		for _, a := range list {
			if (core.Config{TeamDomain: team, Audiences: []string{a}}).Validate() == nil {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		out = []string{"cfaccess-inspect-no-audience"}
	}
	return out
}
