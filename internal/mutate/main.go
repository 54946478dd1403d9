// Command mutate checks that every security rule of cfaccess has a test that fails without
// it. Each mutation below disables or weakens one rule with a one-line change; for each, the
// tests named run against the changed source (through go test -overlay: the tree is never
// written) and must fail. A mutation whose tests still pass is a rule that could be lost
// silently: the command says which, and exits 1. So does a mutation whose line is no longer
// in the source, which must then be brought up to date.
//
//	go run ./internal/mutate            # every mutation
//	go run ./internal/mutate -run cache # those whose name contains "cache"
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mutation changes the one occurrence of old in file (relative to the repository root) to
// new; the tests matching run in pkgs must then fail.
type mutation struct {
	name     string
	file     string
	old, new string
	pkgs     []string
	run      string
}

var mutations = []mutation{
	{"cached token: exp re-checked on every hit", "core/verifier.go",
		"case !v.clk.Before(e.deadline):", "case false:",
		[]string{"./core"}, "TestCachedTokenTimes|TestCacheRechecksTimes"},
	{"cached token: nbf re-checked on every hit", "core/verifier.go",
		"case !v.clk.Reached(e.notBefore):", "case false:",
		[]string{"./core"}, "TestCachedTokenTimes|TestCacheRechecksTimes"},
	{"cached token: a withdrawn key voids it", "core/verifier.go",
		"if e.key.Withdrawn() {", "if false {",
		[]string{"./core"}, "TestCacheWithdrawnKeyVoidsHits|TestKeys"},
	{"host binding checked on every request", "core/verifier.go",
		"if v.cfg.hosts != nil {", "if false {",
		[]string{"./core"}, "TestHost"},
	{"signature length bounded before decoding", "internal/token/token.go",
		"if len(sig) > b64.EncodedLen(MaxSignatureSize) {", "if false {",
		[]string{"./core", "./internal/token"}, "TestVerifySignatureLengthCap|TestParseSignatureBound"},
	{"header length bounded before decoding", "internal/token/token.go",
		"if len(h) > MaxHeaderSize {", "if false {",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsMalformed|TestParseHeaderBound|TestVerifyReadsLittle"},
	{"RS256 only", "internal/token/token.go",
		`case hdr.alg != "RS256":`, "case false:",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsForgeries|TestParseRefuses"},
	{"critical header extensions refused", "internal/token/token.go",
		"case hdr.crit:", "case false:",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsForgeries|TestVerifyRejectsMalformed|TestParseRefuses"},
	{"CR and LF refused: one token, one spelling", "internal/token/token.go",
		"|| hasCRLF(tok) {", "{",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsMalformed|TestParseRefuses"},
	{"strict base64: no second spelling of a signature", "internal/token/token.go",
		"var b64 = base64.RawURLEncoding.Strict()", "var b64 = base64.RawURLEncoding",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsMalformed|TestParseNonCanonicalSignature"},
	{"payload is UTF-8, as signed", "internal/token/token.go",
		"if err := json.Unmarshal(b, v); err != nil {", "if err := json.Unmarshal(b, v, jsontext.AllowInvalidUTF8(true)); err != nil {",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsMalformed|TestDecodeClaimsRefuses"},
	{"a name given twice refused: one token, one reading", "internal/token/token.go",
		"if err := json.Unmarshal(b, v); err != nil {", "if err := json.Unmarshal(b, v, jsontext.AllowDuplicateNames(true)); err != nil {",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsMalformed|TestDecodeClaimsRefuses|TestParseRefuses"},
	{"names matched exactly", "internal/token/token.go",
		"if err := json.Unmarshal(b, v); err != nil {", "if err := json.Unmarshal(b, v, json.MatchCaseInsensitiveNames(true)); err != nil {",
		[]string{"./core", "./internal/token"}, "TestVerifyRejectsForgeries|TestDecodeClaimsExactNames|TestParseRefuses"},
	{"issuer checked", "internal/token/claims.go",
		"jwt.WithIssuer(r.Issuer),", "",
		[]string{"./core", "./internal/token"}, "TestVerifyIssuer|TestValidator"},
	{"audience checked", "internal/token/claims.go",
		"jwt.WithAudience(r.Audiences...),", "",
		[]string{"./core", "./internal/token"}, "TestVerifyAudience|TestValidator"},
	{"exp required", "internal/token/claims.go",
		"jwt.WithExpirationRequired(),", "",
		[]string{"./core", "./internal/token"}, "TestVerifyTimes|TestValidator"},
	{"organization tokens refused", "internal/token/claims.go",
		`if c.Type != "" && c.Type != "app" {`, "if false {",
		[]string{"./core", "./internal/token"}, "TestVerifyTokenType|TestValidator"},
	{"small RSA keys skipped", "internal/keyset/parse.go",
		"case pub.N.BitLen() < MinRSABits:", "case false:",
		[]string{"./core", "./internal/keyset"}, "TestKeysSkipsUnusableKeys|TestParseSkips"},
	{"unknown kids: one forced fetch per cool-down", "internal/keyset/keyset.go",
		"if now.Sub(s.lastForced) < s.cfg.Cooldown {", "if false {",
		[]string{"./core", "./internal/keyset"}, "TestKeysUnknownKidFloodIsCoalescedAndCooledDown|TestSetCooldown"},
	{"an ambiguous kid is used for neither key", "internal/keyset/parse.go",
		"delete(keys, kid)", "_ = kid",
		[]string{"./core", "./internal/keyset"}, "TestKeysAmbiguousKid|TestParseAmbiguous"},
	{"no redirect off the team domain", "internal/teamclient/teamclient.go",
		"if got := req.URL.Scheme + \"://\" + req.URL.Host; got != origin {", "if got := \"\"; false {",
		[]string{"./core", "./internal/teamclient"}, "TestKeysRedirectsAreRefused|TestRedirects"},
	{"team-domain bodies bounded", "internal/teamclient/teamclient.go",
		"if len(body) > MaxBodySize {", "if false {",
		[]string{"./core", "./internal/teamclient"}, "TestCertsBodyBound|TestIdentityBodyBound|TestBodyBound"},
	{"service tokens have no groups", "core/caller.go",
		"if c.Claims.IsServiceToken() {\n\t\treturn nil, nil", "if false {\n\t\treturn nil, nil",
		[]string{"./core"}, "TestServiceTokenGroups"},
	{"a policy's error is no yes", "core/policy.go",
		"return ok && err == nil, err", "return ok, err",
		[]string{"./core", "./core/adapter"}, "TestPolicies|TestPolicyErrors|TestGuard"},
	{"the header wins over the cookie", "core/adapter/request.go",
		`if t := strings.Trim(r.Header(core.HeaderName), " \t"); t != "" {`, `if t := strings.Trim(r.Header(core.HeaderName), " \t"); t != "" && r.Cookie(core.CookieName) == "" {`,
		[]string{"./core/adapter"}, "TestTokenFrom"},
	{"every host a request names is bound to the token's application", "core/adapter/guard.go",
		"caller, err = g.v.Authenticate(ctx, token, Hosts(r)...)", "caller, err = g.v.Authenticate(ctx, token, r.Host())",
		[]string{"./chiaccess", "./fiberaccess/fiber2access"}, "TestConformance"},
	{"readers hold store entries to their own TTL", "core/identitystore.go",
		"until := earliest(expiry, exp, fetched.Add(s.cfg.identityTTL))", "until := earliest(expiry, exp); _ = fetched",
		[]string{"./core"}, "TestIdentityStore"},
	{"store entries bound to their token and team", "internal/seal/seal.go",
		"return append(b, name[:]...)", "return b",
		[]string{"./core", "./internal/seal"}, "TestEntryBindsTeamAndToken|TestOpenRefuses|TestIdentityStore"},
}

func main() {
	only := flag.String("run", "", "run only the mutations whose name contains this")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "cfaccess-mutate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(tmp)

	var survived, stale []string
	for i, m := range mutations {
		if !strings.Contains(m.name, *only) {
			continue
		}
		start := time.Now()
		caught, err := m.check(root, filepath.Join(tmp, fmt.Sprint(i)))
		switch {
		case err != nil:
			stale = append(stale, fmt.Sprintf("%s: %v", m.name, err))
			fmt.Printf("STALE    %s: %v\n", m.name, err)
		case !caught:
			survived = append(survived, m.name)
			fmt.Printf("SURVIVED %s (%s: %q → %q; tests %s in %s)\n", m.name, m.file, m.old, m.new, m.run, strings.Join(m.pkgs, " "))
		default:
			fmt.Printf("caught   %s (%.0fs)\n", m.name, time.Since(start).Seconds())
		}
	}
	if len(survived)+len(stale) > 0 {
		fmt.Printf("\n%d mutation(s) survived, %d stale: a security rule lacks a test that fails without it, or the list is out of date\n", len(survived), len(stale))
		os.Exit(1)
	}
}

// check applies m through an overlay in dir and reports whether its tests failed.
func (m mutation) check(root, dir string) (caught bool, err error) {
	path := filepath.Join(root, m.file)
	src, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if n := strings.Count(string(src), m.old); n != 1 {
		return false, fmt.Errorf("%q stands %d times in %s, not once", m.old, n, m.file)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	mutated := filepath.Join(dir, filepath.Base(m.file))
	if err := os.WriteFile(mutated, []byte(strings.Replace(string(src), m.old, m.new, 1)), 0o644); err != nil {
		return false, err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {path: mutated}})
	if err != nil {
		return false, err
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append([]string{"test", "-overlay", overlayFile, "-count=1", "-run", m.run}, m.pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return false, fmt.Errorf("the tests did not end: %v", ctx.Err())
	}
	if err == nil {
		return false, nil
	}
	if strings.Contains(string(out), "[build failed]") || strings.Contains(string(out), "[setup failed]") {
		return false, fmt.Errorf("the mutated source does not build:\n%s", out)
	}
	return true, nil
}

// repoRoot is the directory of the root module, which holds every file mutated.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cfaccess/cfaccess").Output()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
