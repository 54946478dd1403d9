package accesstest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// manyGroups returns n group names of 10 bytes each.
func manyGroups(n int) []string {
	g := make([]string, n)
	for i := range g {
		g[i] = fmt.Sprintf("group-%04d", i)
	}
	return g
}

// jsonLen is the length of v's JSON (with sorted keys, the order of a Custom with no
// CustomOrder).
func jsonLen(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// customOf mints t on srv and returns the token's custom claim as raw JSON, and the custom
// field of the token's get-identity document.
func customOf(t *testing.T, srv *accesstest.Server, tok accesstest.Token) (claim, identity string) {
	t.Helper()
	token := srv.Mint(tok)
	p := parseJWT(t, token)
	r := get(t, srv.URL+identityPath, cookieFor(token))
	if r.status != http.StatusOK {
		t.Fatalf("get-identity: status %d: %s", r.status, r.body)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("get-identity: %v: %s", err, r.body)
	}
	return string(p.rawClaims["custom"]), string(doc["custom"])
}

// TestCustomTrimming: past the budget, the token's custom claim loses attributes from the
// end of the configured list, per token, as Access trims it; get-identity keeps them all.
func TestCustomTrimming(t *testing.T) {
	big := manyGroups(300) // about 4 KiB of JSON
	small := manyGroups(3)
	title := strings.Repeat("t", 40)
	full := map[string]any{"groups": big, "dept": "eng", "title": title}
	// Their JSON in the order groups, dept, title, and without the last one or two.
	groupsJSON, _ := json.Marshal(big)
	g := `"groups":` + string(groupsJSON)
	gd := `{` + g + `,"dept":"eng"}`
	gdt := `{` + g + `,"dept":"eng","title":"` + title + `"}`
	order := []string{"groups", "dept", "title"}

	tests := []struct {
		name   string
		opts   []accesstest.Option
		tok    accesstest.Token
		want   string // the token's custom claim
		absent bool   // no custom claim at all
	}{
		{"under the default budget, untouched", nil,
			accesstest.Token{Email: "ann@example.com", Custom: map[string]any{"groups": small, "dept": "eng"}},
			`{"dept":"eng","groups":["group-0000","group-0001","group-0002"]}`, false},
		{"past the default budget, the last attribute goes", nil,
			accesstest.Token{Email: "bob@example.com", Custom: map[string]any{"groups": big, "dept": "eng"}, CustomOrder: []string{"dept", "groups"}},
			`{"dept":"eng"}`, false},
		{"from the end, even when the first is the large one", []accesstest.Option{accesstest.WithCustomBudget(len(gd))},
			accesstest.Token{Email: "bob@example.com", Custom: full, CustomOrder: order},
			gd, false},
		{"exactly at the budget, untouched", []accesstest.Option{accesstest.WithCustomBudget(len(gdt))},
			accesstest.Token{Email: "bob@example.com", Custom: full, CustomOrder: order},
			gdt, false},
		{"one byte past the budget, the last attribute goes", []accesstest.Option{accesstest.WithCustomBudget(len(gdt) - 1)},
			accesstest.Token{Email: "bob@example.com", Custom: full, CustomOrder: order},
			gd, false},
		{"until it fits: everything, when the first alone does not", []accesstest.Option{accesstest.WithCustomBudget(len(g))},
			accesstest.Token{Email: "bob@example.com", Custom: full, CustomOrder: order},
			`{}`, false},
		{"a budget of None trims nothing", []accesstest.Option{accesstest.WithCustomBudget(core.None)},
			accesstest.Token{Email: "bob@example.com", Custom: full, CustomOrder: order},
			gdt, false},
		{"Claims[custom] is not trimmed", nil,
			accesstest.Token{Email: "bob@example.com", Claims: map[string]any{"custom": full}},
			fmt.Sprintf(`{"dept":"eng","groups":%s,"title":"%s"}`, groupsJSON, title), false},
		{"no Custom, no claim", []accesstest.Option{accesstest.WithCustomBudget(1)},
			accesstest.Token{Email: "bob@example.com"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.NewTeam(t, tt.opts...)
			claim, identity := customOf(t, srv, tt.tok)
			if tt.absent {
				if claim != "" || identity != "" {
					t.Errorf("custom %s, get-identity custom %s; want neither", claim, identity)
				}
				return
			}
			if claim != tt.want {
				t.Errorf("custom claim\n%.200s…\nwant\n%.200s…", claim, tt.want)
			}
			// get-identity has the whole of what was configured.
			whole := tt.tok.Custom
			if whole == nil {
				return // Claims[custom] bypasses the configuration altogether
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(identity), &got); err != nil || len(got) != len(whole) {
				t.Fatalf("get-identity custom %.200s (%v), want all %d attributes", identity, err, len(whole))
			}
			if jsonLen(t, got) != jsonLen(t, whole) {
				t.Errorf("get-identity custom %.200s…, want the whole of it", identity)
			}
		})
	}

	t.Run("per user, on one server", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		claimAnn, _ := customOf(t, srv, accesstest.Token{Email: "ann@example.com", Custom: map[string]any{"dept": "eng", "groups": small}})
		claimBob, _ := customOf(t, srv, accesstest.Token{Email: "bob@example.com", Custom: map[string]any{"dept": "eng", "groups": big}})
		if !strings.Contains(claimAnn, `"groups"`) || strings.Contains(claimBob, `"groups"`) || !strings.Contains(claimBob, `"dept":"eng"`) {
			t.Errorf("ann's custom %s, bob's %.200s: want ann's groups kept and bob's dropped", claimAnn, claimBob)
		}
	})

	t.Run("WithCustomBudget(0) is the default", func(t *testing.T) {
		srv := testkit.NewTeam(t, accesstest.WithCustomBudget(0))
		// One attribute whose JSON is exactly the budget, and one a byte longer.
		pad := func(n int) map[string]any {
			return map[string]any{"k": strings.Repeat("x", n-len(`{"k":""}`))}
		}
		at, _ := customOf(t, srv, accesstest.Token{Email: "ann@example.com", Custom: pad(accesstest.DefaultCustomBudget)})
		past, _ := customOf(t, srv, accesstest.Token{Email: "ann@example.com", Custom: pad(accesstest.DefaultCustomBudget + 1)})
		if len(at) != accesstest.DefaultCustomBudget || past != `{}` {
			t.Errorf("a custom claim of %d bytes, then %q; want %d bytes kept, then {}", len(at), past, accesstest.DefaultCustomBudget)
		}
	})

	t.Run("the trimmed token fits a 4 KB cookie", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		token := srv.Mint(accesstest.Token{Email: "ann.longname@example.com", Custom: map[string]any{"groups": big}, Country: "DE"})
		if n := len(cookieFor(token)); n > 4096 {
			t.Errorf("cookie of %d bytes", n)
		}
		// A custom claim just within the budget: still within a cookie.
		token = srv.Mint(accesstest.Token{Email: "ann.longname@example.com", Country: "DE",
			Custom: map[string]any{"k": strings.Repeat("x", accesstest.DefaultCustomBudget-len(`{"k":""}`))}})
		if n := len(cookieFor(token)); n > 4096 {
			t.Errorf("cookie of %d bytes with a custom claim at the budget", n)
		}
	})
}

// A verifier that reads groups from the custom claim falls back on get-identity when Access
// trimmed the claim away, and gets the full list there.
func TestCustomTrimmedGroupsThroughVerifier(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := verifierConfig(srv)
	cfg.Groups = core.GroupsClaim("groups")
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	groups := append(manyGroups(300), "admins")
	mint := func(email string, groups []string) *core.Caller {
		t.Helper()
		c, err := v.Authenticate(ctx, srv.Mint(accesstest.Token{Email: email, Groups: groups,
			Custom: map[string]any{"dept": "eng", "groups": groups}, CustomOrder: []string{"dept", "groups"}}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	few := mint("ann@example.com", []string{"admins"})
	if ok, err := core.Groups("admins").Allow(ctx, few); !ok || err != nil || srv.IdentityRequests() != 0 {
		t.Fatalf("groups in the token: Allow = %v, %v after %d get-identity calls; want true from the token", ok, err, srv.IdentityRequests())
	}
	many := mint("bob@example.com", groups)
	if ok, err := core.Groups("admins").Allow(ctx, many); !ok || err != nil || srv.IdentityRequests() != 1 {
		t.Fatalf("groups trimmed: Allow = %v, %v after %d get-identity calls; want true from one call", ok, err, srv.IdentityRequests())
	}
	if got, err := many.Groups(ctx); err != nil || len(got) != len(groups) {
		t.Errorf("Groups = %d groups, %v; want all %d", len(got), err, len(groups))
	}
}
