package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/core"
)

// Report is what inspect found, and its -json output.
type Report struct {
	TokenID string `json:"token_id"` // core.TokenID: the token is never printed whole
	Kind    string `json:"kind"`     // "user", "service" or "unknown"
	// Header and Claims are the token's, as it spells them: verified only when Verdict is
	// "verified". Null when they do not decode.
	Header json.RawMessage `json:"header"`
	Claims json.RawMessage `json:"claims"`
	// DecodeError says why the header or the claims do not decode.
	DecodeError string `json:"decode_error,omitempty"`

	Team      string   `json:"team,omitempty"`      // the team domain checked against
	Audiences []string `json:"audiences,omitempty"` // the AUD tags checked against
	Now       int64    `json:"now"`                 // when, in Unix seconds
	Leeway    float64  `json:"leeway_seconds"`      // on exp, nbf and iat
	Checks    []Check  `json:"checks"`              // empty without a team domain

	Verdict Verdict     `json:"verdict"`
	Reason  core.Reason `json:"reason,omitempty"`       // the verifier's, when refused
	Message string      `json:"message,omitempty"`      // what the verdict means, for people
	Failed  string      `json:"failed_check,omitempty"` // the check of Reason
	// Disagreement is set when the checks and the verifier name different failures: a bug.
	Disagreement string `json:"disagreement,omitempty"`

	decoded Unverified
	now     time.Time
}

// ExitStatus is the exit status of the report's verdict.
func (r *Report) ExitStatus() int {
	if r.Verdict == Verified || r.Verdict == Decoded {
		return cli.ExitOK
	}
	return cli.ExitRefused
}

// write prints r for people.
func (r *Report) write(w io.Writer, st cli.Style) {
	d := r.decoded
	fmt.Fprintf(w, "%s %s: %s\n", st.Bold("Token"), r.TokenID, r.summary())

	trust := " (not verified)"
	if r.Verdict == Verified {
		trust = " (verified)"
	}
	if d.Header != nil {
		fmt.Fprintf(w, "\n%s%s\n", st.Bold("Header"), st.Dim(trust))
		r.members(w, st, d.Header)
	}
	if d.Claims != nil {
		fmt.Fprintf(w, "\n%s%s\n", st.Bold("Claims"), st.Dim(trust))
		r.members(w, st, d.Claims)
	}
	if d.Err != nil {
		fmt.Fprintf(w, "\n%s %s\n", st.Red("Cannot decode it:"), cli.Printable(d.Err.Error()))
	}

	if len(r.Checks) > 0 {
		fmt.Fprintf(w, "\n%s %s %s\n", st.Bold("Checks against"), r.Team,
			st.Dim(fmt.Sprintf("(at %s, leeway %s)", When(r.now), time.Duration(r.Leeway*float64(time.Second)))))
		width := 0
		for _, c := range r.Checks {
			width = max(width, len(c.Name))
		}
		for _, c := range r.Checks {
			mark := ""
			var status string
			switch c.Status {
			case Pass:
				status = st.Green("ok  ")
			case Fail:
				status = st.Red("FAIL")
				if c.Name == r.Failed {
					mark = st.Red("  ← " + string(c.Reason))
				}
			default:
				status = st.Dim("skip")
			}
			fmt.Fprintf(w, "  %s  %-*s  %s%s\n", status, width, c.Name, c.Detail, mark)
		}
	}

	fmt.Fprintln(w)
	switch r.Verdict {
	case Verified:
		fmt.Fprintf(w, "%s %s\n", st.Green("VERIFIED:"), r.Message)
	case Refused:
		fmt.Fprintf(w, "%s %s%s\n", st.Red(fmt.Sprintf("REFUSED (%s):", r.Reason)), r.Message, r.alsoFailing())
	case Incomplete:
		fmt.Fprintf(w, "%s %s\n", st.Yellow("NOT VERIFIED:"), r.Message)
	case Unavailable:
		fmt.Fprintf(w, "%s %s\n", st.Yellow("CANNOT CHECK:"), r.Message)
	default:
		fmt.Fprintf(w, "%s %s\n", st.Yellow("Not verified:"), r.Message)
	}
}

// alsoFailing names the failed checks other than the one the verifier names.
func (r *Report) alsoFailing() string {
	var names []string
	for _, c := range r.Checks {
		if c.Status == Fail && c.Name != r.Failed {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (failing too: " + strings.Join(names, ", ") + ")"
}

// summary says in a line what the token is: whose, and until when.
func (r *Report) summary() string {
	d := r.decoded
	var s string
	switch r.Kind {
	case "user":
		who := d.String("email")
		if who == "" {
			who = "sub " + d.String("sub")
		}
		s = "a user token for " + cli.Printable(who)
	case "service":
		s = "a service token, client ID " + cli.Printable(d.String("common_name"))
	default:
		if d.Claims == nil {
			return "not a readable token"
		}
		s = "neither a user's token nor a service token's (no email, sub or common_name)"
	}
	if exp, ok := numericTime(d.Claim("exp")); ok {
		if r.now.Before(exp) {
			s += ", expires " + Ago(r.now, exp)
		} else {
			s += ", expired " + Ago(r.now, exp)
		}
	}
	return s
}

// members prints the members of a header or payload, aligned, with times as dates.
func (r *Report) members(w io.Writer, st cli.Style, ms []Member) {
	width := 0
	for _, m := range ms {
		width = max(width, len(cli.Printable(m.Name)))
	}
	for _, m := range ms {
		name := cli.Printable(m.Name)
		fmt.Fprintf(w, "  %-*s  %s\n", width, name, r.value(st, m, width+4))
	}
}

func (r *Report) value(st cli.Style, m Member, indent int) string {
	switch m.Name {
	case "exp", "nbf", "iat":
		if t, ok := numericTime(m.Value); ok {
			rel := Ago(r.now, t)
			switch {
			case m.Name == "exp" && r.now.Before(t):
				rel = "expires " + rel
			case m.Name == "exp":
				rel = st.Red("expired " + rel)
			}
			return fmt.Sprintf("%s  %s", When(t), st.Dim("("+rel+", "+string(m.Value)+")"))
		}
	}
	var s string
	if json.Unmarshal(m.Value, &s) == nil {
		if s == "" {
			return st.Dim(`""`)
		}
		return cli.Printable(s)
	}
	var list []string
	if json.Unmarshal(m.Value, &list) == nil && list != nil {
		for i := range list {
			list[i] = cli.Printable(list[i])
		}
		return strings.Join(list, ", ")
	}
	if len(m.Value) > 0 && (m.Value[0] == '{' || m.Value[0] == '[') && len(m.Value) > 60 {
		var b bytes.Buffer
		if json.Indent(&b, m.Value, strings.Repeat(" ", indent), "  ") == nil {
			lines := strings.Split(b.String(), "\n")
			for i := range lines {
				lines[i] = cli.Printable(lines[i])
			}
			return strings.Join(lines, "\n")
		}
	}
	return cli.Printable(string(m.Value))
}

// numericTime reads a NumericDate claim: seconds since 1970, fractions allowed.
func numericTime(v json.RawMessage) (time.Time, bool) {
	var f float64
	if v == nil || json.Unmarshal(v, &f) != nil || math.Abs(f) > 1e12 {
		return time.Time{}, false
	}
	secs, frac := math.Modf(f)
	return time.Unix(int64(secs), int64(frac*1e9)), true
}

// When formats t for people, in the local time zone.
func When(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }

// Ago says how far t is from now: "in 3h", "12m ago", "now".
func Ago(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return "in " + Span(d)
	}
	return Span(-d) + " ago"
}

// Span writes d roughly, as people say it: "45s", "12m", "3h", "3h12m", "2d3h".
func Span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}
