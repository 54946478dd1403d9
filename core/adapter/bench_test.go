package adapter_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// BenchmarkGuard is a whole decision on a warm cache: find the token, authenticate it, apply
// the policy. The adapters add the handing of the caller to the handler
// (internal/bench's BenchmarkAdapters).
//
//	go test ./core/adapter -run '^$' -bench BenchmarkGuard -benchmem
func BenchmarkGuard(b *testing.B) {
	srv, v := testkit.TeamVerifier(b)
	r := httptest.NewRequest("GET", "/admin", nil)
	r.Header.Set(core.HeaderName, srv.User("ann@example.com", "staff", "admins"))
	req := adapter.HTTPRequest(r)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		opts []adapter.Option
	}{
		{"no_policy", nil},
		{"email_domain_policy", []adapter.Option{adapter.WithPolicy(core.EmailDomains("example.com"))}},
		{"group_policy", []adapter.Option{adapter.WithPolicy(core.Groups("admins"))}},
		// An observer sees each decision, as metrics do: what building the event costs.
		{"no_policy_observed", []adapter.Option{adapter.WithObserver(func(e core.Event) { observed = e })}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := newGuard(b, v, bc.opts...)
			if d := g.Check(ctx, req); !d.Allowed() {
				b.Fatal(d.Err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !g.Check(ctx, req).Allowed() {
					b.Fatal("refused")
				}
			}
		})
	}
}

var observed core.Event // where the observer puts its event, so that building it is not elided

// BenchmarkGuardParallel is a whole decision on a warm cache, with a group policy (so both
// caches are read), from every core. Run it with -cpu 1,2,…: a cached decision takes no lock,
// so throughput should grow with the cores.
//
//	go test ./core/adapter -run '^$' -bench 'Parallel' -cpu 1,2
func BenchmarkGuardParallel(b *testing.B) {
	srv, v := testkit.TeamVerifier(b)
	r := httptest.NewRequest("GET", "/admin", nil)
	r.Header.Set(core.HeaderName, srv.User("ann@example.com", "staff", "admins"))
	req := adapter.HTTPRequest(r)
	g := newGuard(b, v, adapter.WithPolicy(core.Groups("admins")))
	if d := g.Check(context.Background(), req); !d.Allowed() {
		b.Fatal(d.Err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if !g.Check(ctx, req).Allowed() {
				b.Error("refused")
				return
			}
		}
	})
}
