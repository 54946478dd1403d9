package bench_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// BenchmarkTokenStream verifies a stream of distinct valid tokens, each also looked up at
// get-identity, through caches smaller than the stream: the caches must cap out, and memory
// with them. It reports the largest cache sizes seen and the live heap after the run.
//
//	go test ./internal/bench -run '^$' -bench BenchmarkTokenStream -benchmem
func BenchmarkTokenStream(b *testing.B) {
	const distinct, capacity = 3000, 1000
	team := testkit.NewTeam(b)
	tokens := make([]string, distinct)
	for i := range tokens {
		tokens[i] = team.Mint(accesstest.Token{Email: fmt.Sprintf("user%d@example.com", i), Groups: []string{"staff"}, ExpiresAt: time.Now().Add(24 * time.Hour)})
	}
	cfg := team.Config()
	cfg.Tokens.CacheSize, cfg.Identities.CacheSize = capacity, capacity
	v := quietVerifier(b, cfg)
	ctx := context.Background()

	var maxTokens, maxIdentities int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tok := tokens[i%distinct]
		i++
		if _, err := v.Identity(ctx, tok); err != nil { // verifies, then get-identity
			b.Fatal(err)
		}
		if i%100 == 0 {
			st := v.Stats()
			maxTokens, maxIdentities = max(maxTokens, st.CachedTokens), max(maxIdentities, st.CachedIdentities)
		}
	}
	if maxTokens > capacity || maxIdentities > capacity {
		b.Fatalf("caches grew past %d: %d tokens, %d identities", capacity, maxTokens, maxIdentities)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(maxTokens), "max-cached-tokens")
	b.ReportMetric(float64(maxIdentities), "max-cached-identities")
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MiB")
}
