package inspect

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/keyset"
	"github.com/cfaccess/cfaccess/internal/token"
)

// Status is the outcome of one check.
type Status string

// The outcomes of a check.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip" // not checked: what it needs is missing, and Detail says what
)

// Check is one rule of verification and how the token fares against it.
type Check struct {
	Name   string      `json:"name"`
	Status Status      `json:"status"`
	Detail string      `json:"detail"`
	Reason core.Reason `json:"reason,omitempty"` // the verifier's reason, for a failure
	stage  int         // the verifier's order: the failure of the lowest stage is the one it names
}

// The checks, in the order they are listed.
const (
	CheckFormat    = "format"
	CheckKID       = "kid"
	CheckSignature = "signature"
	CheckPayload   = "payload"
	CheckIssuer    = "iss"
	CheckAudience  = "aud"
	CheckExpiry    = "exp"
	CheckNotBefore = "nbf"
	CheckIssuedAt  = "iat"
	CheckType      = "type"
)

// Inputs are what the checks are made against.
type Inputs struct {
	Token     string
	Team      string                 // the canonical team domain, the iss to expect
	Audiences []string               // none: the aud check is skipped
	Keys      map[string]*keyset.Key // nil when the key set could not be had
	Ambiguous []string               // kids the certs document lists with two keys
	KeysErr   error                  // why Keys is nil
	Now       time.Time
	Leeway    time.Duration
}

// tokenReasons are the reasons the verifier gives for the problems package token finds.
var tokenReasons = map[token.Problem]core.Reason{
	token.Malformed:      core.ReasonMalformed,
	token.HeaderTooLarge: core.ReasonHeaderTooLarge,
	token.Algorithm:      core.ReasonAlgorithm,
	token.Critical:       core.ReasonCritical,
	token.NoKeyID:        core.ReasonNoKeyID,
	token.Signature:      core.ReasonSignature,
	token.MissingClaim:   core.ReasonMissingClaim,
	token.Issuer:         core.ReasonIssuer,
	token.Audience:       core.ReasonAudience,
	token.Expired:        core.ReasonExpired,
	token.NotYetValid:    core.ReasonNotYetValid,
	token.IssuedInFuture: core.ReasonIssuedInFuture,
	token.Type:           core.ReasonTokenType,
}

// claimOrder is the order in which the verifier names the failures of the claim checks,
// which it makes all at once: a missing claim first, then the claim that tells most.
var claimOrder = []core.Reason{
	core.ReasonMissingClaim, core.ReasonIssuer, core.ReasonAudience,
	core.ReasonExpired, core.ReasonNotYetValid, core.ReasonIssuedInFuture,
}

// Evaluate makes every check, each on its own, so that all of a token's problems are
// listed, not only the first: the claims are read even when the signature fails (and
// shown as unverified). Its rules are the verifier's; First names the failure the
// verifier reports.
func Evaluate(in Inputs) []Check {
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	// format: what the verifier reads before it looks for a key.
	var p token.Parsed
	parseErr := p.Parse(in.Token)
	switch {
	case len(in.Token) > core.DefaultMaxTokenSize:
		add(fail(CheckFormat, 0, core.ReasonTooLarge, "%d bytes, over the %d KiB a token may have", len(in.Token), core.DefaultMaxTokenSize>>10))
	case parseErr != nil:
		add(fail(CheckFormat, 0, reasonOf(parseErr), "%s", detail(parseErr)))
	default:
		add(pass(CheckFormat, 0, "three base64url segments, alg RS256, a kid"))
	}

	// kid and signature.
	var key *keyset.Key
	switch {
	case parseErr != nil:
		add(skip(CheckKID, 1, "the header could not be read"))
	case in.Keys == nil:
		add(skip(CheckKID, 1, "the team's key set could not be had: %v", in.KeysErr))
	case slices.Contains(in.Ambiguous, p.KID):
		add(fail(CheckKID, 1, core.ReasonUnknownKey, "kid %s is listed twice in the team's key set, with different keys: neither is used", cli.Printable(p.KID)))
	case in.Keys[p.KID] == nil:
		add(fail(CheckKID, 1, core.ReasonUnknownKey, "kid %s is not in the team's key set (%s): the token is from another team, or its key was withdrawn", cli.Printable(p.KID), kidList(in.Keys)))
	default:
		key = in.Keys[p.KID]
		add(pass(CheckKID, 1, "in the team's key set, of %d keys", len(in.Keys)))
	}
	if key == nil {
		add(skip(CheckSignature, 2, "no key to check it with"))
	} else {
		var te *token.Error
		if _, err := p.Verify(key.Public); errors.As(err, &te) && te.Problem == token.Signature {
			add(fail(CheckSignature, 2, core.ReasonSignature, "the RS256 signature does not verify with key %s: the token was altered, or signed by another key", p.KID))
		} else {
			add(pass(CheckSignature, 2, "RS256, by the key of that kid"))
		}
	}

	// payload: decoded as the verifier decodes it (after the signature; here whatever it is).
	var claims *token.Claims
	if payload, err := payloadOf(in.Token); err != nil {
		add(fail(CheckPayload, 3, core.ReasonMalformed, "%s", err))
	} else if claims, err = token.DecodeClaims(payload); err != nil {
		add(fail(CheckPayload, 3, core.ReasonMalformed, "%s", detail(err)))
	} else {
		add(pass(CheckPayload, 3, "a JSON object, its claims of the right types"))
	}
	if claims == nil {
		for _, name := range []string{CheckIssuer, CheckAudience, CheckExpiry, CheckNotBefore, CheckIssuedAt, CheckType} {
			add(skip(name, 4, "the payload could not be read"))
		}
		return checks
	}
	checks = append(checks, claimChecks(in, claims)...)
	return checks
}

func claimChecks(in Inputs, c *token.Claims) []Check {
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }
	const stage = 4

	switch {
	case c.Iss == "":
		add(fail(CheckIssuer, stage, core.ReasonMissingClaim, "no iss claim"))
	case c.Iss != in.Team:
		add(fail(CheckIssuer, stage, core.ReasonIssuer, "iss is %s, not the team domain %s", cli.Printable(c.Iss), in.Team))
	default:
		add(pass(CheckIssuer, stage, "%s, the team domain", c.Iss))
	}

	aud := printableList(c.Aud)
	switch {
	case len(c.Aud) == 0 || (len(c.Aud) == 1 && c.Aud[0] == ""):
		add(fail(CheckAudience, stage, core.ReasonMissingClaim, "no aud claim"))
	case len(in.Audiences) == 0:
		add(skip(CheckAudience, stage, "not checked: the token is for %s; pass -aud with your application's AUD tag", aud))
	case !slices.ContainsFunc(c.Aud, func(a string) bool { return slices.Contains(in.Audiences, a) }):
		add(fail(CheckAudience, stage, core.ReasonAudience, "the token is for %s, not %s: a token of another Access application", aud, strings.Join(in.Audiences, ", ")))
	default:
		add(pass(CheckAudience, stage, "the token is for %s", aud))
	}

	leeway := fmt.Sprintf("leeway %s", in.Leeway)
	exp := token.Time(c.Exp)
	switch {
	case c.Exp == nil:
		add(fail(CheckExpiry, stage, core.ReasonMissingClaim, "no exp claim"))
	case !in.Now.Before(exp.Add(in.Leeway)):
		add(fail(CheckExpiry, stage, core.ReasonExpired, "expired %s, at %s (%s)", Ago(in.Now, exp), When(exp), leeway))
	case !in.Now.Before(exp):
		add(pass(CheckExpiry, stage, "expired %s, within the %s", Ago(in.Now, exp), leeway))
	default:
		add(pass(CheckExpiry, stage, "expires %s, at %s", Ago(in.Now, exp), When(exp)))
	}

	nbf := token.Time(c.Nbf)
	switch {
	case c.Nbf == nil:
		add(pass(CheckNotBefore, stage, "absent, which is allowed"))
	case in.Now.Before(nbf.Add(-in.Leeway)):
		add(fail(CheckNotBefore, stage, core.ReasonNotYetValid, "not valid until %s, %s (%s): is a clock wrong?", When(nbf), Ago(in.Now, nbf), leeway))
	default:
		add(pass(CheckNotBefore, stage, "valid since %s", Ago(in.Now, nbf)))
	}

	iat := token.Time(c.Iat)
	switch {
	case c.Iat == nil:
		add(pass(CheckIssuedAt, stage, "absent, which is allowed"))
	case in.Now.Before(iat.Add(-in.Leeway)):
		add(fail(CheckIssuedAt, stage, core.ReasonIssuedInFuture, "issued in the future, %s (%s): is a clock wrong?", Ago(in.Now, iat), leeway))
	default:
		add(pass(CheckIssuedAt, stage, "issued %s", Ago(in.Now, iat)))
	}

	switch c.Type {
	case "":
		add(pass(CheckType, stage+1, "absent, which is allowed (service tokens may omit it)"))
	case "app":
		add(pass(CheckType, stage+1, "app, an application token"))
	case "org":
		add(fail(CheckType, stage+1, core.ReasonTokenType, "org: the organization token of the user's global Access session, not an application token"))
	default:
		add(fail(CheckType, stage+1, core.ReasonTokenType, "%s, not app: not an application token", cli.Printable(c.Type)))
	}
	return checks
}

// First returns the failure the verifier reports, of all that checks lists: the failure of
// the earliest stage, and among the claim checks, which it makes together, the one it
// ranks first. It returns nil when nothing failed.
func First(checks []Check) *Check {
	var first *Check
	rank := func(c *Check) int {
		if i := slices.Index(claimOrder, c.Reason); i >= 0 && c.stage == 4 {
			return c.stage*100 + i
		}
		return c.stage * 100
	}
	for i := range checks {
		c := &checks[i]
		if c.Status == Fail && (first == nil || rank(c) < rank(first)) {
			first = c
		}
	}
	return first
}

// payloadOf decodes the payload segment as the verifier does, with the strict base64url
// of JWS.
func payloadOf(tok string) ([]byte, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("the token is not three segments")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the payload is not base64url: %w", err)
	}
	return b, nil
}

func reasonOf(err error) core.Reason {
	var te *token.Error
	if errors.As(err, &te) {
		return tokenReasons[te.Problem]
	}
	return core.ReasonMalformed
}

// detail is err's message and cause, which for a malformed token says where.
func detail(err error) string { return cli.Printable(err.Error()) }

func kidList(keys map[string]*keyset.Key) string {
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	if len(kids) == 1 {
		return "its one key: " + kids[0]
	}
	return fmt.Sprintf("its %d keys: %s", len(kids), strings.Join(kids, ", "))
}

func printableList(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = cli.Printable(s)
	}
	return strings.Join(out, ", ")
}

func pass(name string, stage int, format string, args ...any) Check {
	return Check{Name: name, Status: Pass, Detail: fmt.Sprintf(format, args...), stage: stage}
}

func fail(name string, stage int, r core.Reason, format string, args ...any) Check {
	return Check{Name: name, Status: Fail, Reason: r, Detail: fmt.Sprintf(format, args...), stage: stage}
}

func skip(name string, stage int, format string, args ...any) Check {
	return Check{Name: name, Status: Skip, Detail: fmt.Sprintf(format, args...), stage: stage}
}
