package otelaccess_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/core/otelaccess"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// decision spells the attributes of a cfaccess.decisions point as attrKey does.
func decision(outcome, code, reason string) string {
	return "cfaccess.code=" + code + ",cfaccess.outcome=" + outcome + ",cfaccess.reason=" + reason
}

// duration spells the attributes of a cfaccess.decision.duration point.
func duration(outcome, code string) string {
	return "cfaccess.code=" + code + ",cfaccess.outcome=" + outcome
}

// forge returns tok with its signature altered.
func forge(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || len(tok)-i < 8 {
		t.Fatalf("not a token: %q", tok)
	}
	b := []byte(tok)
	j := i + (len(tok)-i)/2
	if b[j] == 'A' {
		b[j] = 'B'
	} else {
		b[j] = 'A'
	}
	return string(b)
}

// Real decisions of real guards, against a real team domain: each one counted once, under
// the outcome, code and reason the guard decided, and timed.
func TestDecisions(t *testing.T) {
	e := newEnv(t, nil)
	policy := e.guard(t, adapter.WithPolicy(core.Groups("admins")))
	redirect := e.guard(t, adapter.WithLoginRedirect())
	optional := e.guard(t, adapter.WithOptionalAuth())

	member := e.srv.User("ann@example.com", "admins")
	requests := []struct {
		name   string
		url    string
		token  string
		header []string
		status int
	}{
		{"member", policy.URL, member, nil, http.StatusOK},
		{"member again", policy.URL, member, nil, http.StatusOK},
		{"no token", policy.URL, "", nil, http.StatusUnauthorized},
		{"not a member", policy.URL, e.srv.User("bob@example.com", "staff"), nil, http.StatusForbidden},
		{"another application's token", policy.URL, e.srv.Mint(accesstest.Token{Email: "cy@example.com", Audience: []string{"another-application"}}), nil, http.StatusUnauthorized},
		{"forged signature", policy.URL, forge(t, member), nil, http.StatusUnauthorized},
		{"browser without token", redirect.URL, "", []string{"Host", "app.example.com", "Sec-Fetch-Mode", "navigate"}, http.StatusFound},
		{"bypassed path", optional.URL, "", nil, http.StatusOK},
	}
	for _, r := range requests {
		if got := get(t, r.url, r.token, r.header...); got != r.status {
			t.Fatalf("%s: status %d, want %d", r.name, got, r.status)
		}
	}

	rm := collect(t, e.reader)
	equalCounts(t, "cfaccess.decisions", intSum(t, rm, "cfaccess.decisions"), map[string]int64{
		decision("allowed", "", ""):                      2,
		decision("denied", "missing_token", ""):          1,
		decision("denied", "forbidden", "policy"):        1,
		decision("denied", "invalid_token", "audience"):  1,
		decision("denied", "invalid_token", "signature"): 1,
		decision("redirected", "missing_token", ""):      1,
		decision("anonymous", "", ""):                    1,
	})
	m, _ := find(rm, "cfaccess.decisions")
	if m.Unit != "{decision}" {
		t.Errorf("cfaccess.decisions unit %q, want {decision}", m.Unit)
	}

	points := histogram(t, rm, "cfaccess.decision.duration")
	counts := make(map[string]int64)
	for k, p := range points {
		counts[k] = int64(p.Count)
		if !slices.Equal(p.Bounds, decisionBuckets) {
			t.Errorf("duration{%s} bounds %v, want the documented buckets", k, p.Bounds)
		}
		var inBuckets uint64
		for _, c := range p.BucketCounts {
			inBuckets += c
		}
		if inBuckets != p.Count || p.Sum < 0 {
			t.Errorf("duration{%s}: %d in buckets, count %d, sum %v", k, inBuckets, p.Count, p.Sum)
		}
	}
	equalCounts(t, "cfaccess.decision.duration", counts, map[string]int64{
		duration("allowed", ""):                 2,
		duration("denied", "missing_token"):     1,
		duration("denied", "forbidden"):         1,
		duration("denied", "invalid_token"):     2,
		duration("redirected", "missing_token"): 1,
		duration("anonymous", ""):               1,
	})
	if m, _ := find(rm, "cfaccess.decision.duration"); m.Unit != "s" {
		t.Errorf("cfaccess.decision.duration unit %q, want s", m.Unit)
	}
}

// The key set cannot be fetched: requests are 503 keys_unavailable, counted as such and in
// cfaccess.keys.unavailable, and the key set has no age until it loads.
func TestKeysDown(t *testing.T) {
	e := newEnv(t, func(srv *accesstest.Server, cfg *core.Config) {
		srv.FailCerts(accesstest.Status500)
		cfg.Keys.StartupWait = core.None
		cfg.Keys.FetchWait = core.None
		cfg.Keys.UnknownKeyCooldown = 10 * time.Millisecond // heal soon after the endpoint does
	})
	if _, err := e.tel.Watch(e.v); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	policy := e.guard(t)
	member := e.srv.User("ann@example.com")
	if got := get(t, policy.URL, member); got != http.StatusServiceUnavailable {
		t.Fatalf("status %d with no keys, want 503", got)
	}

	rm := collect(t, e.reader)
	equalCounts(t, "cfaccess.decisions", intSum(t, rm, "cfaccess.decisions"), map[string]int64{
		decision("denied", "unavailable", "keys_unavailable"): 1,
	})
	equalCounts(t, "cfaccess.keys.unavailable", intSum(t, rm, "cfaccess.keys.unavailable"), map[string]int64{"": 1})
	if m, ok := find(rm, "cfaccess.keys.age"); ok {
		t.Errorf("cfaccess.keys.age before any key set: %+v", m.Data)
	}

	e.srv.FailCerts(accesstest.Healthy)
	testkit.Eventually(t, "the verifier to heal", func() bool { return get(t, policy.URL, member) == http.StatusOK })
	if _, ok := find(collect(t, e.reader), "cfaccess.keys.age"); !ok {
		t.Error("cfaccess.keys.age absent after the key set loaded")
	}
}

// Values that core does not define, such as those a custom policy's error makes up, are
// recorded as Other, and nothing of an event but its outcome, code, reason and latency is.
func TestObserveKeepsAttributesBounded(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	tel, err := otelaccess.New(otelaccess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	secrets := core.Event{
		Subject: "ann@example.com",
		TokenID: "0123456789ab",
		Policy:  `Emails("ann@example.com")`,
		Err:     errors.New("ann@example.com is not welcome"),
	}
	made := secrets
	made.Outcome, made.Code, made.Reason, made.Latency = "sideways", "teapot", "made_up", 3*time.Millisecond
	known := secrets
	known.Outcome, known.Code, known.Reason, known.Latency = core.OutcomeDenied, core.CodeForbidden, core.ReasonPolicy, 30*time.Microsecond
	tel.Observe(made)
	tel.Observe(made)
	tel.Observe(known)

	rm := collect(t, reader)
	o := otelaccess.Other
	equalCounts(t, "cfaccess.decisions", intSum(t, rm, "cfaccess.decisions"), map[string]int64{
		decision(o, o, o):                         2,
		decision("denied", "forbidden", "policy"): 1,
	})
	points := histogram(t, rm, "cfaccess.decision.duration")
	// 3 ms falls in (2.5 ms, 5 ms]; 30 µs in (25 µs, 50 µs].
	for k, want := range map[string]int{duration(o, o): bucketOf(t, 0.005), duration("denied", "forbidden"): bucketOf(t, 0.00005)} {
		p, ok := points[k]
		if !ok {
			t.Errorf("duration{%s} absent", k)
			continue
		}
		for i, c := range p.BucketCounts {
			if (i == want) != (c > 0) {
				t.Errorf("duration{%s} bucket %d holds %d; want all in bucket %d", k, i, c, want)
			}
		}
	}
	noSecrets(t, everything(nil, rm), "ann@example.com", "0123456789ab", "Emails", "welcome")
}

// bucketOf returns the index of the bucket of decisionBuckets whose upper bound is b.
func bucketOf(t *testing.T, b float64) int {
	t.Helper()
	i := slices.Index(decisionBuckets, b)
	if i < 0 {
		t.Fatalf("%v is no bound of the decision buckets", b)
	}
	return i
}

// Every outcome, code and reason that core defines is recorded as itself, not as Other:
// a reason added to core and forgotten here would hide in Other.
func TestEveryValueOfCoreIsKnown(t *testing.T) {
	values := constants(t, "Outcome", "Code", "Reason")
	for _, typ := range []string{"Outcome", "Code", "Reason"} {
		if len(values[typ]) == 0 {
			t.Fatalf("found no %s constant in core", typ)
		}
	}
	reader := sdkmetric.NewManualReader()
	tel, err := otelaccess.New(otelaccess.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	want := make(map[string]int64)
	for _, o := range values["Outcome"] {
		tel.Observe(core.Event{Outcome: core.Outcome(o)})
		want[decision(o, "", "")]++
	}
	for _, c := range values["Code"] {
		tel.Observe(core.Event{Outcome: core.OutcomeDenied, Code: core.Code(c)})
		want[decision("denied", c, "")]++
	}
	for _, r := range values["Reason"] {
		tel.Observe(core.Event{Outcome: core.OutcomeDenied, Code: core.CodeInvalidToken, Reason: core.Reason(r)})
		want[decision("denied", "invalid_token", r)]++
	}
	equalCounts(t, "cfaccess.decisions", intSum(t, collect(t, reader), "cfaccess.decisions"), want)
}

// constants returns the values of the string constants of the given types declared in
// package core's source, by type.
func constants(t *testing.T, types ...string) map[string][]string {
	t.Helper()
	dir := "../" // package core, beside this module in the repository
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("package core's source is not here: %v", err)
	}
	out := make(map[string][]string)
	fset := token.NewFileSet()
	for _, ent := range entries {
		name := ent.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, dir+name, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				id, ok := vs.Type.(*ast.Ident)
				if !ok || !slices.Contains(types, id.Name) {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: a %s constant that is not a string literal", fset.Position(v.Pos()), id.Name)
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatalf("%s: %v", fset.Position(v.Pos()), err)
					}
					out[id.Name] = append(out[id.Name], s)
				}
			}
		}
	}
	return out
}

// Without options, the global providers are used; Observe may be called from many
// goroutines at once.
func TestGlobalProvidersAndConcurrentUse(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetMeterProvider(noop.NewMeterProvider()) // the tests after this one record nothing globally
		_ = mp.Shutdown(context.Background())
	})
	tel, err := otelaccess.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				if g%2 == 0 {
					tel.Observe(core.Event{Outcome: core.OutcomeAllowed})
				} else {
					tel.Observe(core.Event{Outcome: core.OutcomeDenied, Code: core.CodeUnavailable, Reason: core.ReasonKeysUnavailable})
				}
			}
		})
	}
	wg.Wait()
	equalCounts(t, "cfaccess.decisions", intSum(t, collect(t, reader), "cfaccess.decisions"), map[string]int64{
		decision("allowed", "", ""):                           goroutines / 2 * each,
		decision("denied", "unavailable", "keys_unavailable"): goroutines / 2 * each,
	})
}
