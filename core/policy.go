package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cfaccess/cfaccess/internal/hosts"
)

// Policy decides whether a verified caller may proceed. Build policies with the functions
// below and combine them with AnyOf and AllOf; they are values, cheap to copy and to share
// between routes. Only policies that need groups look up the caller's identity, and only when
// they are reached. The zero Policy allows nobody.
type Policy struct {
	name  string
	allow func(ctx context.Context, c *Caller) (bool, error)
	err   error // a construction mistake: the policy allows nobody, and NewGuard reports it
}

// Allow reports whether c may proceed. An error means the question could not be answered
// (e.g. get-identity failed); callers must treat it as a refusal.
func (p Policy) Allow(ctx context.Context, c *Caller) (bool, error) {
	if p.allow == nil || p.err != nil || c == nil || c.Claims == nil {
		return false, p.err
	}
	ok, err := p.allow(ctx, c)
	return ok && err == nil, err // a yes that comes with an error is no yes
}

// Err returns the mistake the policy was built with (an empty list, a blank name), if any.
// Such a policy allows nobody.
func (p Policy) Err() error {
	if p.allow == nil && p.err == nil {
		return fmt.Errorf("%w: the zero Policy allows nobody", ErrConfig)
	}
	return p.err
}

// String describes the policy, e.g. `groups(admins, ops)`.
func (p Policy) String() string { return p.name }

// Groups allows users who belong to any of the groups, matched by the group's name or ID
// exactly, or by its e-mail address without regard to ASCII case. Service tokens have no
// groups and never match.
func Groups(groups ...string) Policy {
	want, err := entries("Groups", groups, checkGroup)
	return Policy{name: "groups(" + strings.Join(want, ", ") + ")", err: err,
		allow: func(ctx context.Context, c *Caller) (bool, error) {
			if c.Claims.IsServiceToken() {
				return false, nil
			}
			have, err := c.Groups(ctx)
			if err != nil {
				return false, err
			}
			for _, g := range have {
				for _, w := range want {
					if w == g.Name || w == g.ID || equalFoldASCII(w, g.Email) {
						return true, nil
					}
				}
			}
			return false, nil
		}}
}

// Emails allows users whose e-mail is one of emails, without regard to ASCII case. A service
// token never matches, even one that carries an e-mail.
func Emails(emails ...string) Policy {
	want, err := entries("Emails", emails, checkEmail)
	return Policy{name: "emails(" + strings.Join(want, ", ") + ")", err: err,
		allow: func(_ context.Context, c *Caller) (bool, error) {
			if c.Claims.IsServiceToken() {
				return false, nil
			}
			for _, w := range want {
				if c.Claims.Email != "" && equalFoldASCII(w, c.Claims.Email) {
					return true, nil
				}
			}
			return false, nil
		}}
}

// EmailDomains allows users whose e-mail address is at one of domains ("example.com" or
// "@example.com"), without regard to ASCII case. Subdomains are not included. A service
// token never matches, even one that carries an e-mail.
func EmailDomains(domains ...string) Policy {
	want, err := entries("EmailDomains", domains, checkDomain)
	for i, d := range want {
		want[i] = strings.TrimPrefix(d, "@")
	}
	return Policy{name: "email_domains(" + strings.Join(want, ", ") + ")", err: err,
		allow: func(_ context.Context, c *Caller) (bool, error) {
			at := strings.LastIndexByte(c.Claims.Email, '@')
			if at < 1 || c.Claims.IsServiceToken() {
				return false, nil
			}
			domain := c.Claims.Email[at+1:]
			for _, w := range want {
				if equalFoldASCII(w, domain) {
					return true, nil
				}
			}
			return false, nil
		}}
}

// ServiceTokens allows the service tokens whose client IDs ("<hex>.access") are listed.
func ServiceTokens(clientIDs ...string) Policy {
	want, err := entries("ServiceTokens", clientIDs, checkClientID)
	return Policy{name: "service_tokens(" + strings.Join(want, ", ") + ")", err: err,
		allow: func(_ context.Context, c *Caller) (bool, error) {
			if !c.Claims.IsServiceToken() {
				return false, nil
			}
			for _, w := range want {
				if w == c.Claims.CommonName {
					return true, nil
				}
			}
			return false, nil
		}}
}

// NamedServiceTokens allows the service tokens that Config.ServiceTokenNames gives one of
// names: a policy that survives the rotation of a token's client ID.
func NamedServiceTokens(names ...string) Policy {
	want, err := entries("NamedServiceTokens", names, func(string) string { return "" })
	return Policy{name: "named_service_tokens(" + strings.Join(want, ", ") + ")", err: err,
		allow: func(_ context.Context, c *Caller) (bool, error) {
			name := c.ServiceTokenName()
			return name != "" && slices.Contains(want, name), nil
		}}
}

// AnyUser allows every verified user, and no service token.
func AnyUser() Policy {
	return Policy{name: "any_user", allow: func(_ context.Context, c *Caller) (bool, error) {
		return !c.Claims.IsServiceToken(), nil
	}}
}

// AnyServiceToken allows every verified service token, and no user.
func AnyServiceToken() Policy {
	return Policy{name: "any_service_token", allow: func(_ context.Context, c *Caller) (bool, error) {
		return c.Claims.IsServiceToken(), nil
	}}
}

// AnyOf allows a caller that one of ps allows. They are tried in order and the first yes
// wins, so put cheap policies before those that look up groups. An error counts only when no
// policy says yes. With no policies it allows nobody.
func AnyOf(ps ...Policy) Policy {
	return Policy{name: combinedName("any_of", ps), err: combinedErr("AnyOf", ps),
		allow: func(ctx context.Context, c *Caller) (bool, error) {
			var errs error
			for _, p := range ps {
				ok, err := p.Allow(ctx, c)
				if ok {
					return true, nil
				}
				errs = errors.Join(errs, err)
			}
			return false, errs
		}}
}

// AllOf allows a caller that every one of ps allows; the first no or error ends it. With no
// policies it allows nobody: an empty list is a mistake, not "everyone".
func AllOf(ps ...Policy) Policy {
	return Policy{name: combinedName("all_of", ps), err: combinedErr("AllOf", ps),
		allow: func(ctx context.Context, c *Caller) (bool, error) {
			for _, p := range ps {
				if ok, err := p.Allow(ctx, c); !ok || err != nil {
					return false, err
				}
			}
			return true, nil
		}}
}

// PolicyFunc makes a policy of f. An error from f is a refusal answered 503, as for any
// policy that cannot decide.
func PolicyFunc(name string, f func(ctx context.Context, c *Caller) (bool, error)) Policy {
	var err error
	if f == nil {
		err = fmt.Errorf("%w: PolicyFunc %q: nil function", ErrConfig, name)
	}
	return Policy{name: name, allow: f, err: err}
}

// equalFoldASCII reports whether a and b are equal but for the case of ASCII letters.
// strings.EqualFold folds Unicode too, which addresses must not: it matches the Kelvin sign
// "\u212A" with "k" and "\u017F" (long s) with "s", so "\u212Aate@corp.example" would
// pass for "kate@corp.example".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// entries trims list and checks each entry with check, which says what is wrong with one,
// if anything: a policy built from a mistake (an unset variable, a list passed as one
// string) must fail where it is built, not show up as 403s.
func entries(fn string, list []string, check func(string) string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %s(): an empty list allows nobody", ErrConfig, fn)
	}
	out := make([]string, 0, len(list))
	var errs []error
	for _, s := range list {
		t := strings.TrimSpace(s)
		why := check(t)
		if t == "" {
			why = "is blank (an unset variable?)"
		}
		if why != "" {
			errs = append(errs, fmt.Errorf("%w: %s: %q %s", ErrConfig, fn, s, why))
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func checkGroup(g string) string {
	// A comma with no "=" is a list in one string; an LDAP DN ("CN=Admins,OU=Groups"), which
	// SAML identity providers send as group names, has both.
	if strings.Contains(g, ",") && !strings.Contains(g, "=") {
		return "holds a comma: give each group as an argument of its own, not a comma-separated list"
	}
	return ""
}

func checkEmail(e string) string {
	switch {
	case strings.ContainsAny(e, ", \t;"):
		return "holds a separator: give each address as an argument of its own"
	case strings.Count(e, "@") != 1 || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@"):
		return "is not an e-mail address (EmailDomains takes domains)"
	}
	return ""
}

func checkDomain(d string) string {
	switch {
	case strings.ContainsAny(d, ", \t;"):
		return "holds a separator: give each domain as an argument of its own"
	case strings.Contains(strings.TrimPrefix(d, "@"), "@"):
		return "is an e-mail address, not a domain (Emails takes addresses)"
	case !hosts.ValidDNSName(strings.ToLower(strings.TrimPrefix(d, "@"))):
		return "is not a domain name"
	}
	return ""
}

func checkClientID(id string) string {
	switch {
	case strings.ContainsAny(id, ", \t;"):
		return "holds a separator: give each client ID as an argument of its own"
	case !strings.HasSuffix(id, ".access") || id == ".access":
		return `is not a service token's client ID, which ends in ".access" (the Client ID, not the Client Secret)`
	}
	return ""
}

func combinedName(op string, ps []Policy) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.name
	}
	return op + "(" + strings.Join(names, ", ") + ")"
}

func combinedErr(fn string, ps []Policy) error {
	if len(ps) == 0 {
		return fmt.Errorf("%w: %s(): an empty list allows nobody", ErrConfig, fn)
	}
	var errs error
	for _, p := range ps {
		errs = errors.Join(errs, p.Err())
	}
	return errs
}
