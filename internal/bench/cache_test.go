package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/maypok86/otter/v2"

	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// zipfTrace returns n requests over keys 0…distinct-1, Zipf-distributed with exponent s (the
// standard library's Zipf needs s > 1; 1.01 is as close to 1 as makes no difference), from a
// fixed seed so that every cache replays the same trace.
func zipfTrace(n, distinct int, s float64) []uint64 {
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), s, 1, uint64(distinct-1))
	trace := make([]uint64, n)
	for i := range trace {
		trace[i] = z.Uint64()
	}
	return trace
}

// lruHitRatio replays trace through an exact LRU of the given size.
func lruHitRatio(b *testing.B, trace []uint64, size int) float64 {
	lru, err := simplelru.NewLRU[uint64, struct{}](size, nil)
	if err != nil {
		b.Fatal(err)
	}
	hits := 0
	for _, k := range trace {
		if _, ok := lru.Get(k); ok {
			hits++
		} else {
			lru.Add(k, struct{}{})
		}
	}
	return float64(hits) / float64(len(trace))
}

// BenchmarkTokenCacheHitRatio replays a Zipf trace over 10× more distinct real tokens than the
// token cache holds through Verifier.Verify, and reports the hit ratio from Stats next to that
// of an exact LRU of the same size on the same trace. Every miss is a real RSA verification.
//
//	go test ./internal/bench -run '^$' -bench BenchmarkTokenCacheHitRatio -benchtime 1x
func BenchmarkTokenCacheHitRatio(b *testing.B) {
	const size, distinct, requests = 400, 4000, 60_000
	team := testkit.NewTeam(b)
	tokens := make([]string, distinct)
	for i := range tokens {
		tokens[i] = team.Mint(accesstest.Token{Email: fmt.Sprintf("user%d@example.com", i), ExpiresAt: time.Now().Add(24 * time.Hour)})
	}
	trace := zipfTrace(requests, distinct, 1.01)
	ctx := context.Background()
	for b.Loop() {
		cfg := team.Config()
		cfg.Tokens.CacheSize = size
		v := quietVerifier(b, cfg)
		for _, k := range trace {
			if _, err := v.Verify(ctx, tokens[k]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(v.Stats().TokenCache.HitRatio(), "hit-ratio")
	}
	b.ReportMetric(lruHitRatio(b, trace, size), "lru-hit-ratio")
}

// cacheUnderTest is the part of a cache library the comparison uses.
type cacheUnderTest struct {
	get func(uint64) bool
	set func(uint64)
}

// candidates are the cache libraries considered for the token and identity caches, each
// bounded to size entries, plus the map with arbitrary eviction that cfaccess had before.
func candidates(size int) map[string]func() cacheUnderTest {
	return map[string]func() cacheUnderTest{
		"otter": func() cacheUnderTest {
			c := otter.Must(&otter.Options[uint64, *int]{MaximumSize: size,
				ExpiryCalculator: otter.ExpiryWriting[uint64, *int](time.Hour), Clock: otter.NewCoarseClock(10 * time.Millisecond)})
			v := new(int)
			return cacheUnderTest{
				get: func(k uint64) bool { _, ok := c.GetIfPresent(k); return ok },
				set: func(k uint64) { c.Set(k, v) },
			}
		},
		"ristretto": func() cacheUnderTest {
			c, err := ristretto.NewCache(&ristretto.Config[uint64, *int]{NumCounters: 10 * int64(size), MaxCost: int64(size), BufferItems: 64})
			if err != nil {
				panic(err)
			}
			v := new(int)
			return cacheUnderTest{
				get: func(k uint64) bool { _, ok := c.Get(k); return ok },
				set: func(k uint64) { c.SetWithTTL(k, v, 1, time.Hour); c.Wait() },
			}
		},
		"lru_mutex": func() cacheUnderTest {
			lru, _ := simplelru.NewLRU[uint64, *int](size, nil)
			var mu sync.Mutex
			v := new(int)
			return cacheUnderTest{
				get: func(k uint64) bool { mu.Lock(); _, ok := lru.Get(k); mu.Unlock(); return ok },
				set: func(k uint64) { mu.Lock(); lru.Add(k, v); mu.Unlock() },
			}
		},
		"map_rwmutex": func() cacheUnderTest {
			m := make(map[uint64]*int, size)
			var mu sync.RWMutex
			v := new(int)
			return cacheUnderTest{
				get: func(k uint64) bool { mu.RLock(); _, ok := m[k]; mu.RUnlock(); return ok },
				set: func(k uint64) {
					mu.Lock()
					if len(m) >= size {
						for old := range m { // whatever the map yields first
							delete(m, old)
							break
						}
					}
					m[k] = v
					mu.Unlock()
				},
			}
		},
	}
}

// BenchmarkCacheLibraries compares the candidate caches on what the token cache needs: the hit
// ratio on Zipf traces over 10× more keys than the cache holds (s = 1.01 and a more skewed
// 1.2; an exact LRU's for reference), and hits from every core (-cpu 1,2,…), in ns per hit.
//
//	go test ./internal/bench -run '^$' -bench BenchmarkCacheLibraries -cpu 1,2
func BenchmarkCacheLibraries(b *testing.B) {
	const size, distinct, requests = 10_000, 100_000, 1_000_000
	traces := map[string][]uint64{"1.01": zipfTrace(requests, distinct, 1.01), "1.2": zipfTrace(requests, distinct, 1.2)}
	for _, name := range []string{"otter", "ristretto", "lru_mutex", "map_rwmutex"} {
		newCache := candidates(size)[name]
		b.Run(name+"/hit_ratio", func(b *testing.B) {
			for b.Loop() {
				for s, trace := range traces {
					c := newCache()
					hits := 0
					for _, k := range trace {
						if c.get(k) {
							hits++
						} else {
							c.set(k)
						}
					}
					b.ReportMetric(float64(hits)/float64(len(trace)), "hit-ratio-s"+s)
				}
			}
			for s, trace := range traces {
				b.ReportMetric(lruHitRatio(b, trace, size), "lru-hit-ratio-s"+s)
			}
		})
		b.Run(name+"/parallel_hits", func(b *testing.B) {
			c := newCache()
			for k := range uint64(size / 2) {
				c.set(k)
			}
			b.RunParallel(func(pb *testing.PB) {
				var k uint64
				for pb.Next() {
					c.get(k % 64) // a few hot tokens, as when many requests share sessions
					k++
				}
			})
		})
	}
}
