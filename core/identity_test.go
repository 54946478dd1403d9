package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

func TestIdentityDocument(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	tok := srv.Mint(accesstest.Token{
		Email:  "ann@example.com",
		Groups: []string{"admins", "ops"},
		Custom: map[string]any{"team": "blue"},
		Identity: map[string]any{
			"devicePosture":   map[string]any{"disk": "encrypted"},
			"saml_attributes": map[string]any{"role": "lead"},
			"oidc_fields":     map[string]any{"sub": "x"},
			"mtls_auth":       map[string]any{"cert_issuer_dn": "CN=ca"},
			"device_id":       "dev-1",
			"iat":             1700000000,
		},
	})
	id, err := v.Identity(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	// id is the identity provider's subject; the token's sub is user_uuid.
	if id.Email != "ann@example.com" || id.Name != "ann" || id.ID == "" || id.ID == id.UserUUID ||
		id.UserUUID != claims.Subject || id.AccountID == "" {
		t.Errorf("identity = %+v", id)
	}
	if len(id.Groups) != 2 || id.Groups[0].Name != "admins" || id.Groups[0].ID == "" || id.Groups[0].Email != "admins@example.com" {
		t.Errorf("groups = %+v", id.Groups)
	}
	if id.IdP.Type != "google-apps" || id.Geo.Country != "US" || id.IP != "203.0.113.7" || id.Version != 2 || id.DeviceID != "dev-1" {
		t.Errorf("idp/geo/ip/version/device = %+v/%+v/%q/%d/%q", id.IdP, id.Geo, id.IP, id.Version, id.DeviceID)
	}
	if len(id.AMR) != 1 || id.AMR[0] != "pwd" || id.IsWarp || id.IsGateway || id.IssuedAt.Unix() != 1700000000 {
		t.Errorf("amr/warp/gateway/iat = %v/%v/%v/%v", id.AMR, id.IsWarp, id.IsGateway, id.IssuedAt)
	}
	for name, raw := range map[string]json.RawMessage{
		"custom": id.Custom, "devicePosture": id.DevicePosture, "saml_attributes": id.SAMLAttributes,
		"oidc_fields": id.OIDCFields, "mtls_auth": id.MTLSAuth, "device_sessions": id.DeviceSessions,
	} {
		if !json.Valid(raw) || len(raw) < 2 {
			t.Errorf("%s = %q, want its raw JSON", name, raw)
		}
	}
	out, _ := json.Marshal(id)
	if string(out) != string(id.Raw) || !strings.Contains(string(out), `"saml_attributes"`) {
		t.Errorf("MarshalJSON = %s, want the document as sent", out)
	}
}

// TestIdentityDecodesPermissively: odd field types leave fields empty instead of failing
// the lookup; groups arrive as strings, objects or a mix.
func TestIdentityDecodesPermissively(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	for _, tc := range []struct {
		name   string
		groups any
		extra  map[string]any
		want   []core.Group
	}{
		{"string groups", []string{"admins", "ops"}, nil, []core.Group{{Name: "admins"}, {Name: "ops"}}},
		{"object groups", []map[string]string{{"id": "g1", "name": "admins", "email": "a@x.io"}}, nil, []core.Group{{ID: "g1", Name: "admins", Email: "a@x.io"}}},
		{"mixed and junk", []any{"admins", 7, nil, map[string]any{"name": "ops", "id": 3}, []string{"x"}, ""}, nil, []core.Group{{Name: "admins"}, {Name: "ops"}}},
		{"groups not a list", "admins", nil, []core.Group{}},
		{"wrong types elsewhere", []string{"admins"}, map[string]any{"version": "two", "iat": "yesterday", "is_warp": "yes", "amr": "pwd", "idp": "okta"}, []core.Group{{Name: "admins"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := map[string]any{"groups": tc.groups}
			for k, v := range tc.extra {
				doc[k] = v
			}
			id, err := v.Identity(context.Background(), srv.Mint(accesstest.Token{Email: "ann@example.com", Identity: doc}))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(id.Groups) != fmt.Sprint(tc.want) && !(len(id.Groups) == 0 && len(tc.want) == 0) {
				t.Errorf("groups = %+v, want %+v", id.Groups, tc.want)
			}
			if id.Email != "ann@example.com" {
				t.Errorf("email = %q: a bad field spoiled the rest", id.Email)
			}
		})
	}
}

func TestIdentityFailures(t *testing.T) {
	for _, tc := range []struct {
		fault  accesstest.Fault
		code   core.Code
		reason core.Reason
	}{
		{accesstest.Status500, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.Status404, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.Garbage, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.Truncated, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.Huge, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.Hang, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.SlowDrip, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.Reset, core.CodeUnavailable, core.ReasonIdentityUnavailable},
		{accesstest.RedirectAway, core.CodeUnavailable, core.ReasonIdentityUnavailable},
	} {
		t.Run(fmt.Sprint(tc.fault), func(t *testing.T) {
			srv := testkit.NewTeam(t)
			clk := testkit.NewClock()
			cfg := testkit.Config(srv, clk)
			cfg.RequestTimeout = 2 * time.Second // ends Hang and SlowDrip
			v := testkit.NewVerifier(t, cfg)
			tok := srv.User("ann@example.com", "admins")
			srv.FailIdentity(tc.fault)
			// Long enough for the request timeout under any load; were that timeout not
			// applied, giving up here would take a minute.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			id, err := v.Identity(ctx, tok)
			if id != nil {
				t.Fatalf("identity despite fault: %+v", id)
			}
			testkit.WantCode(t, err, tc.code, tc.reason)
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("took %v: the request timeout %v did not end the call", took, cfg.RequestTimeout)
			}
			if ra := core.AsError(err).RetryAfter; ra != core.DefaultUnknownKeyCooldown {
				t.Errorf("RetryAfter = %v, want %v", ra, core.DefaultUnknownKeyCooldown)
			}
			// The failure is remembered for Identities.FailureTTL: once healed, the next
			// lookup after it succeeds.
			srv.FailIdentity(accesstest.Healthy)
			clk.Advance(core.DefaultIdentityFailureTTL)
			if _, err := v.Identity(context.Background(), tok); err != nil {
				t.Fatalf("after healing: %v", err)
			}
		})
	}
}

func TestIdentityRefusedByAccess(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	// A validly signed token whose nonce Access does not know: get-identity answers 401.
	payload, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": srv.AUD, "sub": "u", "email": "ann@example.com",
		"identity_nonce": "unknown", "exp": time.Now().Add(time.Hour).Unix()})
	tok := srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+srv.CurrentKeyID()+`"}`), payload)
	_, err := v.Identity(context.Background(), tok)
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonIdentityRefused)
}

func TestIdentityOfServiceToken(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	_, err := v.Identity(context.Background(), srv.ServiceToken(""))
	testkit.WantCode(t, err, core.CodeForbidden, core.ReasonServiceToken)
	if n := srv.IdentityRequests(); n != 0 {
		t.Errorf("get-identity called %d times for a service token", n)
	}
}

func TestIdentityOnlyForVerifiedTokens(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	tok := srv.User("ann@example.com")
	_, err := v.Identity(context.Background(), tok[:len(tok)-3]+"AAA")
	testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonSignature)
	_, err = v.Identity(context.Background(), "")
	testkit.WantCode(t, err, core.CodeMissingToken, "")
	if n := srv.IdentityRequests(); n != 0 {
		t.Errorf("get-identity called %d times for tokens that did not verify", n)
	}
}

// TestIdentityCoalescedAndCached: twenty concurrent first lookups of one token make one call;
// later ones make none until the TTL, or the token's exp if sooner, has passed.
func TestIdentityCoalescedAndCached(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	cfg.Identities.TTL = time.Minute
	v := testkit.NewVerifier(t, cfg)
	base := clk.Now()
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", Groups: []string{"admins"}, IssuedAt: base, ExpiresAt: base.Add(90 * time.Second)})

	srv.FailIdentity(accesstest.Held) // keep the first call in flight while the others arrive
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = v.Identity(context.Background(), tok) })
	}
	testkit.Eventually(t, "the first call", func() bool { return srv.IdentityRequests() == 1 })
	srv.FailIdentity(accesstest.Healthy)
	wg.Wait()
	if n := srv.IdentityRequests(); n != 1 {
		t.Fatalf("20 concurrent lookups made %d calls", n)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	for range 50 {
		if _, err := v.Identity(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Fatalf("repeated lookups made %d calls", n)
	}
	clk.Advance(time.Minute) // the TTL ends
	if _, err := v.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.IdentityRequests(); n != 2 {
		t.Fatalf("after the TTL: %d calls, want 2", n)
	}
	clk.Advance(30 * time.Second) // the token's exp passes (its leeway keeps it valid)
	if _, err := v.Identity(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.IdentityRequests(); n != 3 {
		t.Fatalf("past exp: %d calls, want 3 (never cached beyond the token's exp)", n)
	}
	if n := v.Stats().CachedIdentities; n != 0 {
		t.Errorf("an identity past its token's exp stays cached (%d)", n)
	}
}

// TestIdentityWaiterMayGiveUp: a caller whose context ends stops waiting, without cancelling
// the call that other callers share.
func TestIdentityWaiterMayGiveUp(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	tok := srv.User("ann@example.com", "admins")
	srv.FailIdentity(accesstest.Held)
	done := make(chan error, 1)
	go func() { _, err := v.Identity(context.Background(), tok); done <- err }()
	testkit.Eventually(t, "the shared call", func() bool { return srv.IdentityRequests() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Identity(ctx, tok)
	testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
	if ra := core.AsError(err).RetryAfter; ra != core.DefaultUnknownKeyCooldown {
		t.Errorf("RetryAfter = %v, want %v", ra, core.DefaultUnknownKeyCooldown)
	}

	srv.FailIdentity(accesstest.Healthy)
	if err := <-done; err != nil {
		t.Fatalf("the patient caller: %v", err)
	}
}

func TestIdentityCacheIsBounded(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.Identities.CacheSize = 4
	v := testkit.NewVerifier(t, cfg)
	for i := range 12 {
		if _, err := v.Identity(context.Background(), srv.User(fmt.Sprintf("u%d@example.com", i))); err != nil {
			t.Fatal(err)
		}
		if n := v.Stats().CachedIdentities; n > 4 {
			t.Fatalf("CachedIdentities = %d", n)
		}
	}
	cfg.Identities.CacheSize = core.None
	v = testkit.NewVerifier(t, cfg)
	tok := srv.User("ann@example.com")
	before := srv.IdentityRequests()
	for range 3 {
		if _, err := v.Identity(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.IdentityRequests() - before; n != 3 || v.Stats().CachedIdentities != 0 {
		t.Errorf("with the cache off: %d calls for 3 lookups", n)
	}
}

func TestGroupsFromTokenClaim(t *testing.T) {
	srv := testkit.NewTeam(t)
	v := groupsFrom(t, srv, core.GroupsClaim("groups"))
	ctx := context.Background()
	ops := core.Groups("ops")
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", Custom: map[string]any{"groups": []any{"admins", map[string]string{"id": "g2", "name": "ops"}}}})
	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := []core.Group{{Name: "admins"}, {ID: "g2", Name: "ops"}}; fmt.Sprint(c.Groups) != fmt.Sprint(want) {
		t.Fatalf("Claims.Groups = %+v, want %+v", c.Groups, want)
	}
	caller, err := v.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := ops.Allow(ctx, caller); !ok || err != nil {
		t.Fatalf("member by token claim refused: %v", err)
	}
	if n := srv.IdentityRequests(); n != 0 {
		t.Errorf("get-identity called %d times although groups come from the token", n)
	}

	// A claim that is present is authoritative, even when empty or of no groups: no call.
	for _, groups := range []any{[]string{}, []string{"staff"}, nil, "not a list"} {
		caller, err := v.Authenticate(ctx, srv.Mint(accesstest.Token{Email: "bob@example.com", Groups: []string{"ops"},
			Custom: map[string]any{"groups": groups}}))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := ops.Allow(ctx, caller); ok || err != nil {
			t.Errorf("claim %v: Allow = %v, %v; want a refusal from the claim", groups, ok, err)
		}
	}
	if n := srv.IdentityRequests(); n != 0 {
		t.Errorf("get-identity called %d times for tokens that carry the claim", n)
	}

	// A token without the claim (Access drops custom claims from a token that would grow too
	// large) has its groups looked up at get-identity, once.
	for _, tc := range []struct {
		name   string
		token  string
		member bool
	}{
		{"no custom claim", srv.User("cy@example.com", "ops"), true},
		{"custom claim without groups", srv.Mint(accesstest.Token{Email: "dee@example.com", Groups: []string{"ops"}, Custom: map[string]any{"dept": "x"}}), true},
		{"no custom claim, not a member", srv.User("eve@example.com", "staff"), false},
	} {
		calls := srv.IdentityRequests()
		caller, err := v.Authenticate(ctx, tc.token)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if ok, err := ops.Allow(ctx, caller); ok != tc.member || err != nil {
				t.Errorf("%s: Allow = %v, %v; want %v from get-identity", tc.name, ok, err, tc.member)
			}
		}
		if n := srv.IdentityRequests() - calls; n != 1 {
			t.Errorf("%s: %d get-identity calls, want 1", tc.name, n)
		}
	}
	// An outage then fails closed, as for any group policy.
	srv.FailIdentity(accesstest.Status500)
	failsClosed(t, v, ops, srv.User("fay@example.com", "ops"))
}

// TestServiceTokenGroups: a service token has no groups, and asking is no error, whatever
// Config.Groups says; get-identity, which has no identity for it, is never asked.
func TestServiceTokenGroups(t *testing.T) {
	srv := testkit.NewTeam(t)
	ctx := context.Background()
	for _, src := range []core.GroupSource{{}, core.GroupsClaim("groups"), core.GroupsAttribute("groups")} {
		v := groupsFrom(t, srv, src)
		tok := srv.Mint(accesstest.Token{CommonName: "0123456789abcdef.access", Custom: map[string]any{"groups": []string{"admins"}}})
		caller, err := v.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if groups, err := caller.Groups(ctx); groups != nil || err != nil {
				t.Errorf("%s: Groups = %v, %v; want none and no error", src, groups, err)
			}
		}
	}
	if n := srv.IdentityRequests(); n != 0 {
		t.Errorf("get-identity called %d times for service tokens", n)
	}
	// The same for a Caller made by hand, with or without an identity.
	svc := &core.Claims{CommonName: "0123456789abcdef.access", Groups: []core.Group{{Name: "admins"}}}
	for _, id := range []*core.Identity{nil, {Groups: []core.Group{{Name: "admins"}}}} {
		if groups, err := core.NewCaller(svc, id).Groups(ctx); groups != nil || err != nil {
			t.Errorf("NewCaller(service token, %v).Groups = %v, %v; want none and no error", id, groups, err)
		}
	}
}

// TestIdentityFailureRemembered: during an outage, one call per token per FailureTTL,
// shared by the requests that arrive together; every request in between gets the same 503 at
// once. Then the next lookup asks again.
func TestIdentityFailureRemembered(t *testing.T) {
	srv := testkit.NewTeam(t)
	clk := testkit.NewClock()
	cfg := testkit.Config(srv, clk)
	v := testkit.NewVerifier(t, cfg)
	ctx := context.Background()
	tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)})

	srv.FailIdentity(accesstest.Held)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { _, errs[i] = v.Identity(ctx, tok) })
	}
	testkit.Eventually(t, "the first call", func() bool { return srv.IdentityRequests() == 1 })
	srv.FailIdentity(accesstest.Status500)
	wg.Wait()
	for _, err := range errs {
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
	}
	clk.Advance(core.DefaultIdentityFailureTTL - time.Nanosecond)
	for range 5 {
		_, err := v.Identity(ctx, tok)
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Fatalf("%d calls within the failure TTL, want 1", n)
	}
	srv.FailIdentity(accesstest.Healthy)
	clk.Advance(time.Nanosecond)
	if _, err := v.Identity(ctx, tok); err != nil {
		t.Fatalf("after the failure TTL: %v", err)
	}
	if n := srv.IdentityRequests(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}

// TestIdentityFailureTTLBounds: a failure is never remembered past the token's exp, nor at all
// with Identities.FailureTTL None; a refusal by Access (401) is remembered like an outage.
func TestIdentityFailureTTLBounds(t *testing.T) {
	t.Run("exp", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		clk := testkit.NewClock()
		cfg := testkit.Config(srv, clk)
		cfg.Identities.FailureTTL = time.Minute
		v := testkit.NewVerifier(t, cfg)
		base := clk.Now().Truncate(time.Second)
		tok := srv.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: base, ExpiresAt: base.Add(10 * time.Second)})
		srv.FailIdentity(accesstest.Status500)
		_, err := v.Identity(context.Background(), tok)
		testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
		srv.FailIdentity(accesstest.Healthy)
		clk.Advance(base.Add(10 * time.Second).Sub(clk.Now())) // exp; the leeway keeps the token valid
		if _, err := v.Identity(context.Background(), tok); err != nil {
			t.Fatalf("at exp, the failure is still remembered: %v", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		srv := testkit.NewTeam(t)
		cfg := testkit.Config(srv, nil)
		cfg.Identities.FailureTTL = core.None
		v := testkit.NewVerifier(t, cfg)
		tok := srv.User("ann@example.com")
		srv.FailIdentity(accesstest.Status500)
		for range 3 {
			_, err := v.Identity(context.Background(), tok)
			testkit.WantCode(t, err, core.CodeUnavailable, core.ReasonIdentityUnavailable)
		}
		if n := srv.IdentityRequests(); n != 3 {
			t.Errorf("%d calls for 3 lookups with failures not remembered", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		srv, v := testkit.TeamVerifier(t)
		payload, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": srv.AUD, "sub": "u", "email": "ann@example.com",
			"identity_nonce": "unknown", "exp": time.Now().Add(time.Hour).Unix()})
		tok := srv.SignRaw([]byte(`{"alg":"RS256","kid":"`+srv.CurrentKeyID()+`"}`), payload)
		for range 3 {
			_, err := v.Identity(context.Background(), tok)
			testkit.WantCode(t, err, core.CodeInvalidToken, core.ReasonIdentityRefused)
		}
		if n := srv.IdentityRequests(); n != 1 {
			t.Errorf("%d calls for 3 lookups of a refused token, want 1", n)
		}
	})
}

// TestIdentityConcurrent runs lookups of many tokens through small caches, with failures
// coming and going, from many goroutines; run it with -race.
func TestIdentityConcurrent(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.Tokens.CacheSize, cfg.Identities.CacheSize = 8, 8
	cfg.Identities.FailureTTL = time.Millisecond
	v := testkit.NewVerifier(t, cfg)
	tokens := make([]string, 24)
	for i := range tokens {
		tokens[i] = srv.User(fmt.Sprintf("u%d@example.com", i), "staff")
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 60 {
				tok := tokens[(g*7+i)%len(tokens)]
				id, err := v.Identity(context.Background(), tok)
				if err == nil && (id == nil || len(id.Groups) != 1) {
					t.Errorf("identity %+v", id)
					return
				}
				if err != nil && !errors.Is(err, core.ErrUnavailable) {
					t.Errorf("error %v", err)
					return
				}
				_ = v.Stats()
			}
		})
	}
	for _, f := range []accesstest.Fault{accesstest.Status500, accesstest.Healthy, accesstest.Garbage, accesstest.Healthy} {
		time.Sleep(5 * time.Millisecond)
		srv.FailIdentity(f)
	}
	wg.Wait()
	if st := v.Stats(); st.CachedIdentities > 8 || st.IdentityCache.Hits+st.IdentityCache.Misses != 360 {
		t.Errorf("stats = %+v", st)
	}
}

// TestIdentityFailureRememberedKeepsRetryAfter: a remembered failure is answered as the
// failure itself was, 503 with a RetryAfter, without a call; so is a policy that needed it.
func TestIdentityFailureRememberedKeepsRetryAfter(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	cfg.Keys.UnknownKeyCooldown = 7 * time.Second
	v := testkit.NewVerifier(t, cfg)
	tok := srv.User("ann@example.com", "admins")
	srv.FailIdentity(accesstest.Status500)
	for range 3 {
		if e := failsClosed(t, v, core.Groups("admins"), tok); e.Status() != http.StatusServiceUnavailable || e.RetryAfter != 7*time.Second {
			t.Fatalf("status %d, RetryAfter %v; want 503 after the cool-down", e.Status(), e.RetryAfter)
		}
	}
	if n := srv.IdentityRequests(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

// TestIdentityFieldNamesAreExact: get-identity's fields are read as Access spells them and
// only so; a field spelled in another case is not that field, in groups least of all.
func TestIdentityFieldNamesAreExact(t *testing.T) {
	srv, v := testkit.TeamVerifier(t)
	admins := core.Groups("admins")
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		doc    map[string]any
		member bool
	}{
		{"groups as Access spells them", map[string]any{"groups": []any{map[string]any{"name": "admins"}}}, true},
		{"GROUPS", map[string]any{"groups": nil, "GROUPS": []string{"admins"}}, false},
		{"Groups", map[string]any{"groups": nil, "Groups": []any{map[string]any{"name": "admins"}}}, false},
		{"NAME in a group", map[string]any{"groups": []any{map[string]any{"NAME": "admins"}}}, false},
		{"Id and EMAIL in groups", map[string]any{"groups": []any{map[string]any{"Id": "admins"}, map[string]any{"EMAIL": "admins"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller, err := v.Authenticate(ctx, srv.Mint(accesstest.Token{Email: "ann@example.com", Identity: tc.doc}))
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := admins.Allow(ctx, caller); ok != tc.member || err != nil {
				t.Errorf("member = %v (%v), want %v", ok, err, tc.member)
			}
		})
	}

	id, err := v.Identity(ctx, srv.Mint(accesstest.Token{Email: "ann@example.com", Identity: map[string]any{
		"email": nil, "EMAIL": "mallory@example.com", "name": nil, "Name": "Mallory",
		"idp": map[string]any{"ID": "i", "TYPE": "okta"}, "geo": nil, "GEO": map[string]any{"country": "FR"},
		"version": nil, "Version": 3, "is_warp": nil, "IS_WARP": true, "amr": nil, "AMR": []string{"mfa"},
		"custom": nil, "Custom": map[string]any{"x": 1}, "iat": nil, "IAT": 1700000000,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "" || id.Name != "" || id.IdP != (core.IdP{}) || id.Geo != (core.Geo{}) || id.Version != 0 ||
		id.IsWarp || id.AMR != nil || id.Custom != nil || !id.IssuedAt.IsZero() {
		t.Errorf("fields read from names in another case: %+v", id)
	}

	// The same holds for groups read from a token claim.
	vc := groupsFrom(t, srv, core.GroupsClaim("groups"))
	for _, custom := range []map[string]any{
		{"GROUPS": []string{"admins"}},
		{"groups": []any{map[string]any{"NAME": "admins"}}},
	} {
		c, err := vc.Verify(ctx, srv.Mint(accesstest.Token{Email: "ann@example.com", Custom: custom}))
		if err != nil || len(c.Groups) != 0 {
			t.Errorf("custom %v: groups %+v, %v", custom, c.Groups, err)
		}
	}
}
