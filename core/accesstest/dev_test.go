package accesstest_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// WithOrigin with the other options: the team domain mounted on a server of the test's own,
// next to an application, one origin for both, as the cfaccess dev proxy serves them, with
// the identity provider's shape WithIdP chose.
func TestWithOriginAndIdP(t *testing.T) {
	ln := testkit.Listen(t)
	origin := "http://" + ln.Addr().String()
	team := testkit.NewTeam(t, accesstest.WithOrigin(origin), accesstest.WithIdP(accesstest.Okta))
	if team.URL != origin {
		t.Fatalf("URL %q, want %q", team.URL, origin)
	}

	mux := http.NewServeMux()
	mux.Handle("/cdn-cgi/access/", team)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the application") })
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	v, err := core.NewVerifier(team.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := team.User("ann@example.com", "admins")
	claims, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != origin || claims.Email != "ann@example.com" {
		t.Errorf("claims %+v", claims)
	}
	id, err := v.Identity(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.IdP.Type != string(accesstest.Okta) || len(id.Groups) != 1 || id.Groups[0].Name != "admins" {
		t.Errorf("identity %+v", id)
	}
	if team.CertsRequests() == 0 || team.IdentityRequests() != 1 {
		t.Errorf("requests: certs %d, identity %d", team.CertsRequests(), team.IdentityRequests())
	}

	// The rest of the origin is the caller's.
	resp, err := http.Get(origin + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "the application" {
		t.Errorf("GET /: %q", body)
	}
}
