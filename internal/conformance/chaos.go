package conformance

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

const workerCount = 12

// chaos drives the adapter with many goroutines mixing valid, forged, expired, unknown-kid,
// anonymous, outsider and service-token requests, while another goroutine rotates the keys
// and makes the certs and get-identity endpoints flap through their faults. Under all that,
// every answer must be one that the situation allows (a valid token may meet a 503 while an
// endpoint is down, a forgery never meets a 200), and the goroutines the run started must go
// away with it.
func chaos(t *testing.T, start Start) {
	team := testkit.NewTeam(t)
	// Short timeouts and cool-down, so that outages are met and healed many times in a run.
	cfg := team.Config()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.RequestTimeout = 150 * time.Millisecond
	cfg.Keys.UnknownKeyCooldown = 20 * time.Millisecond
	cfg.Identities.TTL = 50 * time.Millisecond
	cfg.Identities.FailureTTL = 20 * time.Millisecond
	cfg.Tokens.CacheSize, cfg.Identities.CacheSize = 64, 64
	v := testkit.NewVerifier(t, cfg)
	base := start(t, Setup{Verifier: v, Observe: func(core.Event) {}, Inject: Injected()})
	before := runtime.NumGoroutine()

	var stop atomic.Bool
	var flaps sync.WaitGroup
	flaps.Go(func() {
		faults := []accesstest.Fault{accesstest.Healthy, accesstest.Status500, accesstest.Garbage,
			accesstest.Reset, accesstest.Healthy, accesstest.Hang, accesstest.Truncated, accesstest.Healthy}
		for i := 0; !stop.Load(); i++ {
			// Every 40 flaps (600 ms): a rotation withdraws the key before last, and a member's
			// token must outlive its request (key fetch wait, identity timeout) under its key,
			// or get-identity rightly refuses it (401).
			if i%40 == 0 {
				team.RotateKeys()
			}
			team.FailCerts(faults[i%len(faults)])
			team.FailIdentity(faults[(i+3)%len(faults)])
			time.Sleep(15 * time.Millisecond)
		}
		team.FailCerts(accesstest.Healthy)
		team.FailIdentity(accesstest.Healthy)
	})

	// Each kind of request, with the answers it may get. Tokens are minted as they are sent,
	// from the key that is current then, so that a valid one is valid whatever has rotated.
	kinds := []struct {
		name  string
		path  string
		token func() string
		allow []int
	}{
		{"member", "/api/admin", func() string { return team.User("ann@example.com", AdminGroup) }, []int{200, 503}},
		{"outsider", "/api/admin", func() string { return team.User("bob@example.com", "staff") }, []int{403, 503}},
		{"service token on a group route", "/api/admin", func() string { return team.ServiceToken(ServiceClientID) }, []int{403, 503}},
		{"service token", "/api/service", func() string { return team.ServiceToken(ServiceClientID) }, []int{200, 503}},
		{"forged", "/api/admin", func() string {
			return forge(team.User("ann@example.com", AdminGroup), `"email":"ann@example.com"`, `"email":"eve@example.com"`)
		}, []int{401, 503}},
		{"expired", "/api/whoami", func() string {
			return team.Mint(accesstest.Token{Email: "ann@example.com", IssuedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: time.Now().Add(-2 * time.Hour)})
		}, []int{401, 503}},
		{"unknown kid", "/api/whoami", func() string {
			return team.Mint(accesstest.Token{Email: "ann@example.com", KeyID: fmt.Sprint("invented-", time.Now().UnixNano())})
		}, []int{401, 503}},
		{"no token", "/api/admin", func() string { return "" }, []int{401}},
	}

	counts := make([]map[int]int, len(kinds))
	var mu sync.Mutex
	var workers sync.WaitGroup
	for w := range workerCount {
		workers.Go(func() {
			for i := range 30 {
				k := (w + i) % len(kinds)
				kind := kinds[k]
				resp, body, err := do(base, Case{Path: kind.path, Token: kind.token()})
				if err != nil {
					t.Errorf("%s: %v", kind.name, err)
					return
				}
				if !slices.Contains(kind.allow, resp.StatusCode) {
					t.Errorf("%s on %s: status %d, allowed %v; body %s", kind.name, kind.path, resp.StatusCode, kind.allow, body)
				}
				if resp.StatusCode != 200 {
					var e struct{ Error string }
					if json.Unmarshal(body, &e) != nil || e.Error == "" {
						t.Errorf("%s: refusal %d without a JSON error: %q", kind.name, resp.StatusCode, body)
					}
				}
				mu.Lock()
				if counts[k] == nil {
					counts[k] = map[int]int{}
				}
				counts[k][resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	workers.Wait()
	stop.Store(true)
	flaps.Wait()
	for k, kind := range kinds {
		t.Logf("%-32s %v", kind.name, counts[k])
	}

	// Healed: a member gets in again. And goroutines are bounded by the concurrency, not by
	// the requests made: 360 requests, 12 at a time, may leave a server's pool of idle
	// workers (fasthttp keeps them for a while), never one goroutine per request or per fetch.
	testkit.Eventually(t, "a member let in after the endpoints healed", func() bool {
		return Status(t, base, Case{Path: "/api/admin", Token: team.User("ann@example.com", AdminGroup)}) == 200
	})
	client.CloseIdleConnections()
	deadline := time.Now().Add(testkit.Patience)
	for runtime.NumGoroutine() > before+3*workerCount {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after the run, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
