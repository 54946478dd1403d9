package testkit

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// FleetLookups has many goroutines look up at once, through the verifiers of fleet in turn,
// the identities of users users of team (u<i>@example.com, in group g<i>), and checks every
// answer. However the lookups meet, get-identity must be asked for each token at least
// once, and at most once per verifier.
func FleetLookups(t testing.TB, team *accesstest.Server, fleet []*core.Verifier, users int) {
	t.Helper()
	calls := team.IdentityRequests()
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i] = team.User(fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("g%d", i))
	}
	var wg sync.WaitGroup
	for w := range 24 {
		wg.Go(func() {
			for i := range 30 {
				n := (w*7 + i) % users
				id, err := fleet[(w+i/3)%len(fleet)].Identity(context.Background(), tokens[n])
				if err != nil || id.Email != fmt.Sprintf("u%d@example.com", n) || len(id.Groups) != 1 || id.Groups[0].Name != fmt.Sprintf("g%d", n) {
					t.Errorf("token %d: %+v, %v", n, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := team.IdentityRequests() - calls; n < users || n > len(fleet)*users {
		t.Errorf("%d get-identity calls for %d tokens on %d instances", n, users, len(fleet))
	}
}
