// Package testkit holds what the tests of this repository's modules share: a fake team
// domain and verifiers of it configured for a busy machine, a settable clock for
// Config.Now, a poller whose deadline only a real failure reaches, logs and events that
// servers' goroutines record while the test reads them, and plain HTTP requests to loopback
// servers. Package rs256 makes keys and tokens by hand, for tests that stand in for Access.
//
// It is for tests only. It imports core and core/accesstest, so the tests of those packages,
// and of the packages core depends on, may use it only from a black-box package (x_test).
package testkit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
)

// Patience bounds every wait for something that must happen: far more than it takes on a
// loaded machine, so that only a real failure reaches it.
const Patience = 30 * time.Second

// Eventually polls cond until it holds, failing the test after Patience.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WantCode fails the test unless err is a *core.Error with code (and reason, when not empty).
func WantCode(t testing.TB, err error, code core.Code, reason core.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %s/%s", code, reason)
	}
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *core.Error %s/%s", err, err, code, reason)
	}
	if e.Code != code || (reason != "" && e.Reason != reason) {
		t.Fatalf("error = %s/%s (%v), want %s/%s", e.Code, e.Reason, err, code, reason)
	}
}

// Segments splits a compact token into its three segments; tests build forgeries from the
// parts of real tokens.
func Segments(t testing.TB, token string) (header, payload, sig string) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("token has %d segments, want 3", len(p))
	}
	return p[0], p[1], p[2]
}
