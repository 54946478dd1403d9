package adapter_test

import (
	"context"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// TestEventSubjectOfANamedServiceToken: events name a service token by its configured name,
// an unnamed one by its client ID, a user by e-mail.
func TestEventSubjectOfANamedServiceToken(t *testing.T) {
	srv := testkit.NewTeam(t)
	cfg := testkit.Config(srv, nil)
	named := "0123456789abcdef0123456789abcdef.access"
	cfg.ServiceTokenNames = map[string]string{named: "ci-deploy"}
	v := testkit.NewVerifier(t, cfg)
	var events []core.Event
	g := newGuard(t, v, adapter.WithObserver(func(e core.Event) { events = append(events, e) }))
	unnamed := srv.ServiceToken("")
	for _, tok := range []string{srv.ServiceToken(named), unnamed, srv.User("ann@example.com")} {
		if d := g.Check(context.Background(), requestWith(tok)); !d.Allowed() {
			t.Fatalf("refused: %v", d.Err)
		}
	}
	c, err := v.Authenticate(context.Background(), unnamed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ci-deploy", c.Claims.CommonName, "ann@example.com"}
	for i, e := range events {
		if e.Subject != want[i] {
			t.Errorf("event %d: Subject %q, want %q", i, e.Subject, want[i])
		}
	}
}
