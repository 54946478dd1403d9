package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/testkit"
)

// deadlineStore is a memStore that says whether it honours deadlines.
type deadlineStore struct {
	*memStore
	honours bool
}

func (s deadlineStore) HonoursDeadlines() bool { return s.honours }

// TestIdentityStoreDeadlineStoreInline: a store that says it honours deadlines is called on
// the request's own goroutine, so that its word is all that bounds a read: one that breaks
// it holds the request; one that does not say so is called on a goroutine of the verifier's,
// and a read it holds costs the request the store timeout only.
func TestIdentityStoreDeadlineStoreInline(t *testing.T) {
	for _, honours := range []bool{false, true} {
		srv := testkit.NewTeam(t)
		mem := newMemStore()
		block := make(chan struct{})
		mem.getFault.Store(&storeFault{block: block}) // ignores its context
		cfg := storeConfig(srv, nil, deadlineStore{memStore: mem, honours: honours})
		cfg.Identities.Shared.Timeout = 50 * time.Millisecond
		v := testkit.NewVerifier(t, cfg)
		done := make(chan error, 1)
		go func() {
			_, err := v.Identity(context.Background(), srv.User("ann@example.com"))
			done <- err
		}()
		if !honours {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			close(block)
			continue
		}
		testkit.Eventually(t, "the read", func() bool { return mem.gets.Load() == 1 })
		select {
		case err := <-done:
			t.Fatalf("the lookup ended (%v) while the store held the read: not called inline", err)
		case <-time.After(300 * time.Millisecond): // a load can only make this pass, never fail
		}
		close(block)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
